"""The HTTP transport over the simulator's domain: aiohttp app factory, routes, control API, OpenAPI."""
