"""HTTP endpoints, one module per area: small ``async def endpoint(request) -> Response``."""
