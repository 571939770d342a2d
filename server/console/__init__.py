"""The web console: recalld's agents and their memory in a browser, served by `recalld serve`
at `/` in the same process and through the same auth and tenant scoping as the REST API.

Pages are rendered on the server (Jinja2) and work without scripts; `static/console.js` adds
what must be live (a streamed chat turn, a job's progress) by calling the REST API with the
console's cookie and CSRF token. Modules: `visit` (who is asking, forms, CSRF, errors as
pages), `pages` (templates), `views` (what a page shows), `routes` (the pages and forms)."""
