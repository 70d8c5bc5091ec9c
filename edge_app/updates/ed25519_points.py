"""Which Ed25519 public keys can be trusted at all: canonical, on the curve, and of large prime order.

OpenSSL (and so `cryptography`) verifies against whatever 32 bytes it is given.
A public key of small order, the identity point among them, lets anyone make a
signature that verifies without a private key, and a key with a small-order
component or a non-canonical encoding (y >= p, or a sign bit on a point whose
x is 0) aliases another key. Honest key generation never makes such keys
(a real key is [a]B), so every one is refused. The arithmetic is RFC 8032's,
in extended coordinates; it runs once per key, so plain integers are fast enough.
"""

from __future__ import annotations

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
"""The order of the base point: a real public key A satisfies [L]A = identity."""
D = -121665 * pow(121666, -1, P) % P
SQRT_MINUS_ONE = pow(2, (P - 1) // 4, P)

Point = tuple[int, int, int, int]
IDENTITY: Point = (0, 1, 1, 0)


class WeakKey(ValueError):
    """32 bytes that are not a usable Ed25519 public key; the message says why."""


def _add(a: Point, b: Point) -> Point:
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    e = (y1 - x1) * (y2 - x2) % P
    f = (y1 + x1) * (y2 + x2) % P
    g = 2 * t1 * t2 * D % P
    h = 2 * z1 * z2 % P
    e, f, g, h = f - e, h - g, h + g, f + e
    return e * f % P, g * h % P, f * g % P, e * h % P


def _multiply(scalar: int, point: Point) -> Point:
    result = IDENTITY
    while scalar:
        if scalar & 1:
            result = _add(result, point)
        point = _add(point, point)
        scalar >>= 1
    return result


def _is_identity(point: Point) -> bool:
    x, y, z, _ = point
    return x % P == 0 and (y - z) % P == 0


def decode_point(raw: bytes) -> Point:
    """RFC 8032 section 5.1.3, strict: only the one canonical encoding of a point on the curve is accepted."""
    if len(raw) != 32:
        raise WeakKey(f"an Ed25519 public key has 32 bytes, this one {len(raw)}")
    value = int.from_bytes(raw, "little")
    sign, y = value >> 255, value & ((1 << 255) - 1)
    if y >= P:
        raise WeakKey("its encoding is not canonical (y is not below 2^255 - 19)")
    u, v = (y * y - 1) % P, (D * y * y + 1) % P
    x = u * pow(v, 3, P) * pow(u * pow(v, 7, P), (P - 5) // 8, P) % P
    if v * x * x % P == (-u) % P:
        x = x * SQRT_MINUS_ONE % P
    if v * x * x % P != u:
        raise WeakKey("it is not a point on the Ed25519 curve")
    if x == 0 and sign:
        raise WeakKey("its encoding is not canonical (sign bit set on a point whose x is 0)")
    if x & 1 != sign:
        x = P - x
    return x, y, 1, x * y % P


def check_public_key(raw: bytes) -> None:
    """Raise WeakKey unless `raw` encodes a point of the large prime-order subgroup, as every real key is."""
    point = decode_point(raw)
    if _is_identity(_multiply(8, point)):
        raise WeakKey("it is a point of small order, with which signatures can be made without any private key")
    if not _is_identity(_multiply(L, point)):
        raise WeakKey("it has a small-order component, so it is not a key any Ed25519 key generation makes")


def signature_is_canonical(signature: bytes) -> bool:
    """A 64-byte signature whose scalar S is below L (RFC 8032 section 5.1.7); S + L would verify the same."""
    return len(signature) == 64 and int.from_bytes(signature[32:], "little") < L
