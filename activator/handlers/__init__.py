"""The gateway's request path: small aiohttp middlewares, one concern each, composed in app.py."""
