"""Tell the operators about every new instance; count them in `state`."""


def post(rv, name, flavor, **options):
    state["created"] = state.get("created", 0) + 1
    api.notify(f"created {rv['name']} ({flavor}), #{state['created']} since this script loaded")
