from django.apps import AppConfig


class PoliciesConfig(AppConfig):
    name = "policies"
    verbose_name = "Network policies"

    def ready(self) -> None:
        from netviz import checks  # noqa: F401 (registers the deployment checks)
