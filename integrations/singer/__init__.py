"""target-truenorth: a Singer target that turns tap streams (ad-platform insights, CRM exports)
into truenorth metric observations through a mapping file or a built-in preset."""
