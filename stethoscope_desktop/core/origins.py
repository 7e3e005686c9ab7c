"""Web origins in one form: the RFC 6454 serialisation of what a browser sends as `Origin`.

`serialize_origin` is shared by the local API's allow-list (api/security.py) and the device
tokens' audience (device_trust), so an origin that is allowed is the one signed and checked: the
scheme and host in lower case, the scheme's default port left out, no trailing slash.
"""

from __future__ import annotations

import re

# The audience of a token asked for by a program on the device, not a web page.
LOCAL_AUDIENCE = "local"
# scheme://host[:port][/]: a host name (RFC 3986 reg-name, ASCII) or a bracketed IPv6 address.
_ORIGIN_SHAPE = re.compile(
    r"([A-Za-z][A-Za-z0-9+.-]*)://"
    r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~%!$&'()*+,;=-]+)"
    r"(?::([0-9]{1,5}))?/?"
)
# The default port of each special scheme (WHATWG URL), left out of a serialised origin.
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443, "ftp": 21}


def serialize_origin(origin: str) -> str | None:
    """Return `origin` in its RFC 6454 serialisation, or None if it is not an origin.

    The scheme and host in lower case (ASCII), the port without leading zeros and left out
    where it is the scheme's default (`DEFAULT_PORTS`), no trailing slash: `HTTPS://Login.
    Example.COM:443/` is `https://login.example.com`. Spaces and tabs around it are ignored. A
    path, query, user name or a port above 65535 is not an origin (None); `local` (a program on
    the device) is itself. The app signs `aud` in this form and keys its nonce ledger on it, and
    the Node.js verifier (docs/device-trust/verify-device-token.js) does the same.
    """
    text = origin.strip(" \t\r\n")
    if text == LOCAL_AUDIENCE:
        return text
    match = _ORIGIN_SHAPE.fullmatch(text)
    if match is None:
        return None
    scheme, host, port_text = match.group(1).lower(), match.group(2).lower(), match.group(3)
    if port_text is None:
        return f"{scheme}://{host}"
    port = int(port_text)
    if port > 65535:
        return None
    if DEFAULT_PORTS.get(scheme) == port:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"
