"""The alignment service's built-in page: the overview (`/`) and one objective's detail view
(`/objectives/{workspace}/{objective_id}`), rendered server-side with Jinja2 templates from
the snapshot and the projection's tables, and a small script that refreshes them and sends
the page's actions to the services."""

from truenorth.alignment.page.routes import PAGE_PATHS, web_router

__all__ = ["PAGE_PATHS", "web_router"]
