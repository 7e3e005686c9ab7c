"""Device trust: a key this device holds, and tokens a login page can verify (issue 17).

A login page sends a nonce; the app answers with a compact JWS (ES256) whose payload binds the
nonce, the page's origin, the time and the device's verdict, signed by the device key
(`keys.open_device_key`): a TPM 2.0 key on Linux, a CNG Platform Crypto Provider key on Windows,
else a software key in a file only the user can read. `token.Attester` makes the tokens;
`verify.verify_token` is the login server's side and depends on `cryptography` only.

Nothing here imports Qt, and nothing in the tray's start-up imports this package: `cryptography`
(and with it OpenSSL) is loaded only where a key is used.
"""
