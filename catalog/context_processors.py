from access.policy import can_add
from products.models import DataProduct


def navigation(request) -> dict:
    """What the top bar needs on every page."""
    user = getattr(request, "user", None)
    return {"can_create_product": bool(user and user.is_authenticated and can_add(user, DataProduct))}
