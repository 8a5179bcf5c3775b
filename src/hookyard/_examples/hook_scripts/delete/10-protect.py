"""Never delete an instance tagged `protected`."""


def pre(instance):
    if "protected" in instance.get("tags", []):
        raise Veto(f"{instance['name']} is protected")
