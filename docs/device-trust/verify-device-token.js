// Verify a Stethoscope Desktop device token on a Node.js login server (Node 16 or later; no
// package needed). The same checks as `stethoscope-desktop verify-token` and the Python
// verifier (stethoscope_desktop/device_trust/verify.py): ES256 only, kid = the enrolled key's
// RFC 7638 thumbprint, the signature, the nonce this server issued, the audience (the login
// page's origin, compared in its RFC 6454 serialisation: scheme and host in lower case, no
// default port, no trailing slash), iat/exp (exp at most 300 s after iat, 30 s of clock skew allowed).
//
//   const { verifyDeviceToken } = require('./verify-device-token');
//   const payload = verifyDeviceToken(token, enrolledJwk, { nonce, origin });
//   // throws an Error whose `check` names the failed check; payload.status is the verdict.
//
// The server must also use each nonce once: delete it from its store when a token comes back
// with it, whatever the outcome, so a replayed token finds no nonce.
'use strict';
const crypto = require('crypto');

const MAX_LIFETIME_SECONDS = 300;

function reject(check, message) {
  const error = new Error(`${check}: ${message}`);
  error.check = check;
  return error;
}

// The bytes of canonical base64url: no padding, only A-Z a-z 0-9 - _, and no bits set in the
// last character that encode nothing (Buffer.from would ignore them, and so read several
// spellings of one signature); null if `text` is not that.
function canonicalBase64url(text) {
  if (typeof text !== 'string' || !/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) return null;
  const bytes = Buffer.from(text, 'base64url');
  return bytes.toString('base64url') === text ? bytes : null;
}

function part(text, what) {
  const bytes = canonicalBase64url(text);
  if (bytes === null) throw reject('malformed', `the ${what} is not canonical base64url without padding`);
  return bytes;
}

function jsonPart(text, what) {
  const bytes = part(text, what);
  let value;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw reject('malformed', `the ${what} is not JSON`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw reject('malformed', `the ${what} is not a JSON object`);
  }
  return value;
}

function thumbprint(jwk) {
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256') throw reject('key', 'not an EC P-256 JWK');
  const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
  return crypto.createHash('sha256').update(canonical).digest('base64url');
}

// An origin in its RFC 6454 serialisation, as the app signs `aud` (and as the Python verifier's
// serialize_origin): scheme and host in lower case, the scheme's default port left out, no
// trailing slash; null for text that is no origin (a path, a user name, a port above 65535).
const ORIGIN_SHAPE = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~%!$&'()*+,;=-]+)(?::([0-9]{1,5}))?\/?$/;
const DEFAULT_PORTS = { http: 80, https: 443, ws: 80, wss: 443, ftp: 21 };

function serializeOrigin(origin) {
  if (typeof origin !== 'string') return null;
  const text = origin.replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, '');
  if (text === 'local') return text;
  const match = ORIGIN_SHAPE.exec(text);
  if (match === null) return null;
  const scheme = match[1].toLowerCase();
  const host = match[2].toLowerCase();
  if (match[3] === undefined) return `${scheme}://${host}`;
  const port = Number(match[3]);
  if (port > 65535) return null;
  if (Object.prototype.hasOwnProperty.call(DEFAULT_PORTS, scheme) && DEFAULT_PORTS[scheme] === port) {
    return `${scheme}://${host}`;
  }
  return `${scheme}://${host}:${port}`;
}

function sameOrigin(audience, origin) {
  const expected = serializeOrigin(origin);
  return expected !== null && serializeOrigin(audience) === expected;
}

function verifyDeviceToken(token, jwk, { nonce, origin, now = Date.now() / 1000, leewaySeconds = 30 }) {
  if (serializeOrigin(origin) === null) {
    // The server's own mistake, whatever the token: an Error without `check`.
    throw new TypeError(`${JSON.stringify(origin)} is not an origin (scheme://host[:port]) nor local`);
  }
  if (typeof token !== 'string' || token.length > 16384) {
    throw reject('malformed', 'a token is text of at most 16384 characters');
  }
  const parts = token.split('.');
  if (parts.length !== 3) throw reject('malformed', 'a compact JWS has 3 parts');
  const header = jsonPart(parts[0], 'header');
  const payload = jsonPart(parts[1], 'payload');
  const signature = part(parts[2], 'signature');
  if (header.alg !== 'ES256') throw reject('alg', `alg ${JSON.stringify(header.alg)} is not ES256`);
  if ('crit' in header) throw reject('malformed', 'the header has crit extensions');
  if (canonicalBase64url(jwk.x) === null || canonicalBase64url(jwk.y) === null) {
    throw reject('key', "the JWK's x and y must be canonical base64url");
  }
  const kid = thumbprint(jwk);
  let key;
  try {
    key = crypto.createPublicKey({ key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }, format: 'jwk' });
  } catch {
    throw reject('key', 'the JWK is not a P-256 public key');
  }
  if (header.kid !== kid) throw reject('kid', `kid ${header.kid} is not the key's ${kid}`);
  const valid = signature.length === 64 &&
    crypto.verify('sha256', Buffer.from(`${parts[0]}.${parts[1]}`), { key, dsaEncoding: 'ieee-p1363' }, signature);
  if (!valid) throw reject('signature', 'the signature does not verify with this key');
  const got = Buffer.from(typeof payload.nonce === 'string' ? payload.nonce : '');
  const issued = Buffer.from(nonce);
  if (typeof payload.nonce !== 'string' || got.length !== issued.length ||
      !crypto.timingSafeEqual(got, issued)) {
    throw reject('nonce', 'not the nonce issued for this login');
  }
  if (!sameOrigin(payload.aud, origin)) throw reject('audience', `the token is for ${payload.aud}`);
  const { iat, exp } = payload;
  if (typeof iat !== 'number' || typeof exp !== 'number') throw reject('malformed', 'iat and exp must be numbers');
  if (exp - iat > MAX_LIFETIME_SECONDS) throw reject('lifetime', `exp is ${exp - iat} s after iat`);
  if (exp <= iat) throw reject('lifetime', 'exp is not after iat');
  if (now >= exp + leewaySeconds) throw reject('expired', 'the token has expired');
  if (iat > now + leewaySeconds) throw reject('not-yet-valid', 'iat is in the future');
  return payload;
}

module.exports = { verifyDeviceToken, thumbprint, serializeOrigin };
