"""The web dashboard: static pages served by the API at ``/``; their data comes from /v1."""
