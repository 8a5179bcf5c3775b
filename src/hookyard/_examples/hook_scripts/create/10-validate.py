"""Refuse instance names the naming policy does not allow (the point allows vetoes)."""


def pre(name, flavor, **options):
    if not name or not name.replace("-", "").isalnum():
        raise Veto(f"instance name {name!r} must be letters, digits and dashes")
    if len(name) > 32:
        raise Veto(f"instance name {name!r} is longer than 32 characters")
