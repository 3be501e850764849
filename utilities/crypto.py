"""Encryption at rest for connection credentials, with key rotation (MultiFernet)."""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


def _keys() -> list[bytes]:
    configured = [key.encode() for key in settings.LODESTAR_ENCRYPTION_KEYS]
    if configured:
        return configured
    # The demo derives its key from SECRET_KEY; deployments set LODESTAR_ENCRYPTION_KEYS.
    digest = hashlib.sha256(("lodestar-credentials:" + settings.SECRET_KEY).encode()).digest()
    return [base64.urlsafe_b64encode(digest)]


def cipher() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in _keys()])


def encrypt(plaintext: str) -> str:
    return cipher().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return cipher().decrypt(token.encode()).decode()
    except InvalidToken:
        raise ValueError("The stored credentials cannot be decrypted with the configured keys.") from None


def rotate(token: str) -> str:
    """Re-encrypt under the newest key (the first of LODESTAR_ENCRYPTION_KEYS)."""
    return cipher().rotate(token.encode()).decode()
