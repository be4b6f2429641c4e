# Stubs for aiohttp_auth 0.1.1 (untyped).
import enum

class Permission(enum.Enum):
    Allow = "Allow"
    Deny = "Deny"

class Group(enum.Enum):
    Everyone = "Everyone"
    AuthenticatedUser = "AuthenticatedUser"
