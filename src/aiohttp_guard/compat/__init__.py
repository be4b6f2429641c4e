"""Everything that keeps aiohttp_auth's users working, in one place.

- `functional`: its functional API (`auth_middleware`, `remember`, `forget`,
  `get_auth`, `auth_required`) and its policies' old names;
- `acl`: its `acl` functions (`acl_middleware`, `acl_required`,
  `get_permitted`, `get_user_groups`) on the new service;
- `tickets`: reading its tickets, so that users stay logged in across the
  upgrade (`accept_legacy=True`, `TicketCodec.decode_legacy`).

The import paths its documentation promises stay: `aiohttp_guard.auth`,
`aiohttp_guard.acl` and `aiohttp_guard.permissions` re-export from here and
from the modules that hold the rest.
"""
