"""`truenorth demo`: the embedded system playing a scripted quarter at accelerated time.

`scenario` turns a strategy document and a seed into timed actions (pure), `offline` folds
them through the alignment domain without I/O, `run` drives a live system, `cli` is the
command.
"""
