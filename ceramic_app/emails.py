"""E-mail normalization and validation with a specific reason for each fault.

The normalized key is what uniqueness and upserts match on: Unicode
whitespace and invisible characters trimmed, NFC, lower-case, and the domain
as an IDNA A-label.
"""

from __future__ import annotations

import re
import unicodedata

import idna

# Characters that spreadsheets and copy-paste leave around addresses:
# Unicode spaces, zero-width characters and the byte order mark.
_INVISIBLES = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
_STRIP_CHARS = (
    "".join(chr(c) for c in range(0x110000) if chr(c).isspace()) + _INVISIBLES
)

# RFC 5322 dot-atom local part (unquoted), ASCII or UTF-8 (RFC 6531).
_LOCAL_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\u0080-\U0010ffff]+"
_LOCAL_RE = re.compile(rf"^{_LOCAL_ATOM}(?:\.{_LOCAL_ATOM})*$")
_LABEL_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_TLD_RE = re.compile(r"^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$")

MAX_EMAIL_LENGTH = 254
MAX_LOCAL_LENGTH = 64


class InvalidEmail(ValueError):
    """An e-mail value that cannot be stored; the message says why."""


def strip_invisible(value: str) -> str:
    """Trim Unicode whitespace and zero-width characters from both ends."""
    return value.strip(_STRIP_CHARS)


def normalize_email(raw: str | None) -> str:
    """Return the normalized key of an e-mail address.

    Raises:
        InvalidEmail: with a reason a user can act on.
    """
    value = strip_invisible(unicodedata.normalize("NFC", raw or ""))
    if not value:
        raise InvalidEmail("e-mail is required")
    if "\x00" in value:
        raise InvalidEmail("e-mail contains a NUL (0x00) character")
    _check_shape(value)
    local, _, domain = value.rpartition("@")
    _check_local(local)
    ascii_domain = _domain_to_ascii(domain)
    key = f"{local.lower()}@{ascii_domain}"
    if len(key) > MAX_EMAIL_LENGTH:
        raise InvalidEmail(f"e-mail is longer than {MAX_EMAIL_LENGTH} characters")
    return key


def _check_shape(value: str) -> None:
    lowered = value.lower()
    if lowered.startswith("mailto:"):
        raise InvalidEmail("remove the 'mailto:' prefix")
    if "<" in value or ">" in value:
        raise InvalidEmail("use only the address, not 'Name <address>'")
    if "," in value or ";" in value:
        raise InvalidEmail("more than one address in the cell")
    if any(ch.isspace() for ch in value):
        raise InvalidEmail("contains a space")
    at_count = value.count("@")
    if at_count == 0:
        raise InvalidEmail("missing '@'")
    if at_count > 1:
        raise InvalidEmail("more than one '@'")


def _check_local(local: str) -> None:
    if not local:
        raise InvalidEmail("nothing before the '@'")
    if len(local) > MAX_LOCAL_LENGTH:
        raise InvalidEmail(
            f"the part before '@' is longer than {MAX_LOCAL_LENGTH} characters"
        )
    if local.startswith("."):
        raise InvalidEmail("the part before '@' starts with '.'")
    if local.endswith("."):
        raise InvalidEmail("the part before '@' ends with '.'")
    if ".." in local:
        raise InvalidEmail("the part before '@' contains '..'")
    if not _LOCAL_RE.match(local):
        bad = next(ch for ch in local if not _LOCAL_RE.match(ch) and ch != ".")
        raise InvalidEmail(f"character {bad!r} is not allowed before the '@'")


def _domain_to_ascii(domain: str) -> str:
    if not domain:
        raise InvalidEmail("nothing after the '@'")
    if ".." in domain:
        raise InvalidEmail("empty domain label ('..')")
    if domain.startswith(".") or domain.endswith("."):
        raise InvalidEmail("the domain starts or ends with '.'")
    if "." not in domain:
        raise InvalidEmail(
            "the domain has no dot (a full domain such as example.com is needed)"
        )
    if "_" in domain:
        raise InvalidEmail("'_' is not allowed in a domain")
    lowered = domain.lower()
    if not lowered.isascii():
        try:
            lowered = idna.encode(lowered, uts46=True).decode("ascii")
        except idna.IDNAError as exc:
            raise InvalidEmail(
                f"the domain is not a valid international domain ({exc})"
            ) from None
    labels = lowered.split(".")
    for label in labels:
        if not _LABEL_RE.match(label):
            raise InvalidEmail(f"the domain label {label!r} is not valid")
    if not _TLD_RE.match(labels[-1]):
        raise InvalidEmail(f"the top-level domain {labels[-1]!r} is not valid")
    return lowered


def is_valid_email(raw: str | None) -> bool:
    """Tell whether raw normalizes to a storable key."""
    try:
        normalize_email(raw)
    except InvalidEmail:
        return False
    return True
