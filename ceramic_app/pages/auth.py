"""Sign-in and sign-up pages: plain HTML forms posted to /auth/*."""

from __future__ import annotations

import reflex as rx

from ceramic_app.components.layout import brand
from ceramic_app.components.native_form import native_form
from ceramic_app.state.auth import AuthFormState


def _field(
    label: str,
    name: str,
    kind: str = "text",
    value: rx.Var | str = "",
    autocomplete: str = "",
    hint: str = "",
) -> rx.Component:
    return rx.vstack(
        rx.text(label, as_="label", html_for=name, size="2", weight="medium"),
        rx.input(
            id=name,
            name=name,
            type=kind,
            default_value=value,
            # A new key remounts the input when the kept value arrives from
            # state, because defaultValue only applies on mount.
            key=f"{name}-field" if isinstance(value, str) else value,
            auto_complete=autocomplete,
            required=True,
            size="3",
            width="100%",
            data_testid=f"{name}-input",
        ),
        rx.cond(
            hint != "", rx.text(hint, size="1", color_scheme="gray"), rx.fragment()
        ),
        spacing="1",
        width="100%",
    )


def _messages() -> rx.Component:
    return rx.fragment(
        rx.cond(
            AuthFormState.error != "",
            rx.callout(
                AuthFormState.error,
                icon="triangle-alert",
                color_scheme="red",
                size="1",
                width="100%",
                data_testid="form-error",
            ),
        ),
        rx.cond(
            AuthFormState.notice != "",
            rx.callout(AuthFormState.notice, icon="info", size="1", width="100%"),
        ),
    )


def _card(
    title: str, subtitle: str, form: rx.Component, footer: rx.Component
) -> rx.Component:
    return rx.center(
        rx.vstack(
            brand(),
            rx.card(
                rx.vstack(
                    rx.heading(title, size="5"),
                    rx.text(subtitle, size="2", color_scheme="gray"),
                    _messages(),
                    form,
                    spacing="4",
                    width="100%",
                ),
                size="4",
                width="100%",
            ),
            footer,
            spacing="5",
            align="center",
            width="100%",
            max_width="420px",
        ),
        min_height="100vh",
        padding="24px",
        background="radial-gradient(circle at 30% 0%, var(--accent-a3), transparent 55%),"
        " var(--gray-2)",
    )


def sign_in_page() -> rx.Component:
    """The sign-in form."""
    form = native_form(
        rx.vstack(
            _field("E-mail", "email", "email", AuthFormState.email, "username"),
            _field("Password", "password", "password", "", "current-password"),
            rx.button(
                "Sign in", type="submit", size="3", width="100%", data_testid="sign-in"
            ),
            spacing="4",
            width="100%",
        ),
        action="/auth/login",
        method="post",
        width="100%",
        data_testid="sign-in-form",
    )
    footer = rx.text(
        "New to CeramicCRM? ",
        rx.link("Create a workspace", href="/signup", data_testid="to-signup"),
        size="2",
    )
    return _card("Sign in", "Welcome back. Sign in to your workspace.", form, footer)


def sign_up_page() -> rx.Component:
    """The sign-up form: a new user and a new workspace they administer."""
    form = native_form(
        rx.vstack(
            _field("Your name", "name", "text", AuthFormState.name, "name"),
            _field("Work e-mail", "email", "email", AuthFormState.email, "email"),
            _field(
                "Password",
                "password",
                "password",
                "",
                "new-password",
                "At least 10 characters.",
            ),
            _field(
                "Workspace name",
                "workspace",
                "text",
                AuthFormState.workspace,
                "organization",
            ),
            rx.button(
                "Create workspace",
                type="submit",
                size="3",
                width="100%",
                data_testid="sign-up",
            ),
            spacing="4",
            width="100%",
        ),
        action="/auth/signup",
        method="post",
        width="100%",
        data_testid="sign-up-form",
    )
    footer = rx.text(
        "Already have an account? ",
        rx.link("Sign in", href="/login", data_testid="to-login"),
        size="2",
    )
    return _card(
        "Create your workspace",
        "You will be its admin and can invite your team later.",
        form,
        footer,
    )
