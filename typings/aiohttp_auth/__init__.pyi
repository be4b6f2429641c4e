from . import acl as acl
from . import auth as auth
