"""A date or time rendered by the browser in the user's own locale and time zone."""

from __future__ import annotations

import reflex as rx
from reflex_base.components.component import field
from reflex_base.vars.base import Var

# Intl.DateTimeFormat with an undefined locale uses the browser's language.
# A bare ISO date (custom date fields) is read as local midnight, so that it
# is not shifted a day back west of UTC. Unparseable values are shown as is.
_LOCAL_TIME_JS = """
function LocalTime({value, mode}) {
  if (!value) return "—";
  const isDate = /^\\d{4}-\\d{2}-\\d{2}$/.test(value);
  const date = new Date(isDate ? value + "T00:00:00" : value);
  if (Number.isNaN(date.getTime())) return String(value);
  const options = mode === "date" || isDate
    ? {dateStyle: "medium"}
    : {dateStyle: "medium", timeStyle: "short"};
  return new Intl.DateTimeFormat(undefined, options).format(date);
}
"""


class LocalTime(rx.Component):
    """Text of an ISO date or timestamp, formatted for the user's locale."""

    tag = "LocalTime"

    value: Var[str] = field(doc="ISO 8601 date or timestamp")
    mode: Var[str] = field(doc='"date" for a date, "datetime" for date and time')

    def add_custom_code(self) -> list[str]:
        """Define the LocalTime function component on the page."""
        return [_LOCAL_TIME_JS]


local_time = LocalTime.create
