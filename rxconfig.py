"""Reflex configuration, built from the one settings object."""

import reflex as rx

from ceramic_app.settings import get_settings

_settings = get_settings()

config = rx.Config(
    app_name="ceramic_app",
    frontend_port=_settings.app_port,
    backend_port=_settings.app_port,
    backend_host=_settings.app_host,
    show_built_with_reflex=False,
    telemetry_enabled=False,
    plugins=[
        rx.plugins.RadixThemesPlugin(
            theme=rx.theme(
                appearance="light",
                accent_color="indigo",
                gray_color="slate",
                radius="medium",
            )
        )
    ],
    disable_plugins=[rx.plugins.SitemapPlugin],
)
