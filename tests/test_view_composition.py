"""Class guards under composition: every guard declared anywhere in a view's
MRO runs, once, in MRO order, through a real server."""

from __future__ import annotations

import enum
import functools
from collections.abc import Generator, Hashable, Iterable
from typing import Any, Literal

import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpClient

from aiohttp_guard import (
    ACL,
    Allow,
    Authenticated,
    AuthService,
    BaseGuard,
    Guard,
    Public,
    Requires,
    auth,
)

from .apps import HeaderPolicy, make_app

Perm = Literal["admin", "edit"]

SITE: ACL[Perm] = ACL(
    [(Allow, "admins", ("admin", "edit")), (Allow, "editors", "edit")]
)

GROUPS = {"root": ("admins",), "ed": ("editors",)}


async def groups(user_id: str | None) -> Iterable[Hashable]:
    return GROUPS.get(user_id or "", ())


def as_user(user: str | None) -> dict[str, str]:
    return {} if user is None else {"X-User": user}


def site(*routes: web.RouteDef, **options: object) -> web.Application:
    app = make_app(HeaderPolicy(), groups=groups, **options)
    app.add_routes(routes)
    return app


async def start(app: web.Application) -> None:
    """Start `app` as a server would (its startup signal included), and stop it."""
    runner = web.AppRunner(app)
    try:
        await runner.setup()
    finally:
        await runner.cleanup()


class Mark(BaseGuard[None]):
    """Lets everything through, writing its name down in `trail`."""

    def __init__(self, name: str, trail: list[str]) -> None:
        self.name, self.trail = name, trail

    def __repr__(self) -> str:
        return f"Mark({self.name!r})"

    async def check(self, request: web.Request) -> None:
        self.trail.append(self.name)


class Body:
    """The page itself, kept apart from the guards."""

    async def get(self) -> web.Response:
        return web.Response(text=type(self).__name__)


# -- the building blocks -------------------------------------------------------


class LoginRequired(web.View):
    # Typed wide, so that type checkers let a subclass replace it.
    guard: Guard[object] | None = Authenticated()


class AdminRequired(web.View):
    admin_guard = Requires("admin", SITE)


@Requires("admin", SITE)
class AdminDecorated(web.View):
    pass


@Requires("admin", SITE)
class AdminDecoratedMixin:
    """Not a view: views deriving from it run its guard."""


class AdminAttributeMixin:
    """Not a view either: its guard attribute runs in views deriving from it."""

    admin_guard = Requires("admin", SITE)


# -- compositions that need a logged-in admin ----------------------------------


class TwoViewBases(LoginRequired, AdminRequired, Body):
    pass


class ReversedViewBases(AdminRequired, LoginRequired, Body):
    pass


class AttributeAndDecorator(LoginRequired, AdminDecorated, Body):
    pass


class DecoratedMixin(AdminDecoratedMixin, LoginRequired, Body):
    pass


class PlainMixinFirst(AdminAttributeMixin, Body, web.View):
    pass


class PlainMixinLast(Body, web.View, AdminAttributeMixin):
    pass


@Requires("admin", SITE)
class DecoratedSubclass(LoginRequired, Body):
    pass


ADMIN_ONLY: dict[str, type[web.View]] = {
    "/two-view-bases": TwoViewBases,
    "/reversed-view-bases": ReversedViewBases,
    "/attribute-and-decorator": AttributeAndDecorator,
    "/decorated-mixin": DecoratedMixin,
    "/plain-mixin-first": PlainMixinFirst,
    "/plain-mixin-last": PlainMixinLast,
    "/decorated-subclass": DecoratedSubclass,
}


@pytest.mark.parametrize("path", ADMIN_ONLY)
@pytest.mark.parametrize(
    ("user", "status"), [(None, 401), ("alice", 403), ("ed", 403), ("root", 200)]
)
async def test_every_guard_of_every_base_runs(
    aiohttp_client: AiohttpClient, path: str, user: str | None, status: int
) -> None:
    client = await aiohttp_client(
        site(*(web.view(p, view) for p, view in ADMIN_ONLY.items()))
    )
    assert (await client.get(path, headers=as_user(user))).status == status


@pytest.mark.parametrize("default", [None, Authenticated()])
async def test_the_routes_report_lists_every_guard(
    default: Authenticated | None,
) -> None:
    app = site(*(web.view(p, view) for p, view in ADMIN_ONLY.items()), default=default)
    report = {str(r) for r in AuthService.of(app).routes_report(app)}
    admin, login = "Requires('admin', ...)", "Authenticated()"
    assert {
        f"GET /two-view-bases -> {login} & {admin}",
        f"GET /reversed-view-bases -> {admin} & {login}",
        f"GET /attribute-and-decorator -> {login} & {admin}",
        f"GET /decorated-mixin -> {admin} & {login}",
        f"GET /plain-mixin-first -> {admin}",
        f"GET /plain-mixin-last -> {admin}",
        f"GET /decorated-subclass -> {admin} & {login}",
    } <= report


async def test_guards_run_in_mro_order_each_once_before_the_methods_own(
    aiohttp_client: AiohttpClient,
) -> None:
    trail: list[str] = []
    shared = Mark("shared", trail)

    @Mark("base decorator", trail)
    class Base(web.View):
        base = Mark("base", trail)

    class Left(Base):
        left = Mark("left", trail)
        also_shared = shared

    class Right(Base):
        right = Mark("right", trail)

    class Mixin:
        mixin = Mark("mixin", trail)
        shared_again = shared

    @Mark("outer", trail)
    @Mark("inner", trail)
    class Diamond(Left, Right, Mixin):
        own = Mark("own", trail)

        @Mark("method", trail)
        async def get(self) -> web.Response:
            trail.append("handler")
            return web.Response(text="ok")

    app = site(web.view("/diamond", Diamond))
    client = await aiohttp_client(app)
    assert (await client.get("/diamond")).status == 200
    # Diamond, Left, Right, Base, web.View..., Mixin: the common base once,
    # a guard object declared twice once.
    order = ["outer", "inner", "own", "left", "shared", "right"]
    order += ["base decorator", "base", "mixin", "method"]
    assert trail == [*order, "handler"]
    (line,) = [
        r for r in AuthService.of(app).routes_report(app) if r.path == "/diamond"
    ]
    assert line.guards == tuple(f"Mark({name!r})" for name in order)


# -- overriding in a subclass --------------------------------------------------


class Guarded(LoginRequired, Body):
    pass


class Replaced(Guarded):
    guard = Requires("edit", SITE)


class Opened(Guarded):
    guard = Public()


class Removed(Guarded):
    guard = None


class OpenedButStillAdmin(TwoViewBases):
    guard = Public()


class DecoratorStays(AttributeAndDecorator):
    guard = Public()


OVERRIDES: dict[str, type[web.View]] = {
    "/replaced": Replaced,
    "/opened": Opened,
    "/removed": Removed,
    "/opened-but-still-admin": OpenedButStillAdmin,
    "/decorator-stays": DecoratorStays,
}


@pytest.mark.parametrize(
    ("path", "statuses"),
    [
        ("/replaced", {None: 401, "alice": 403, "ed": 200}),
        ("/opened", {None: 200, "alice": 200}),
        ("/removed", {None: 401, "alice": 200}),  # the default guard's turn
        ("/opened-but-still-admin", {None: 401, "ed": 403, "root": 200}),
        ("/decorator-stays", {None: 401, "ed": 403, "root": 200}),
    ],
)
async def test_a_subclass_replaces_an_attribute_guard_by_name(
    aiohttp_client: AiohttpClient, path: str, statuses: dict[str | None, int]
) -> None:
    app = site(
        *(web.view(p, view) for p, view in OVERRIDES.items()), default=Authenticated()
    )
    client = await aiohttp_client(app)
    for user, status in statuses.items():
        assert (await client.get(path, headers=as_user(user))).status == status, user


async def test_overrides_in_the_routes_report(aiohttp_client: AiohttpClient) -> None:
    routes = [web.view(p, view) for p, view in OVERRIDES.items()]
    app = site(*routes, default=Authenticated())
    report = {str(r) for r in AuthService.of(app).routes_report(app)}
    assert {
        "GET /replaced -> Requires('edit', ...)",
        "GET /opened -> Public()",
        "GET /removed -> Authenticated() (default)",
        "GET /opened-but-still-admin -> Requires('admin', ...)",
        "GET /decorator-stays -> Requires('admin', ...)",
    } <= report

    no_default = site(*routes)
    report = {str(r) for r in AuthService.of(no_default).routes_report(no_default)}
    assert "GET /removed -> UNGUARDED" in report
    client = await aiohttp_client(no_default)
    assert (await client.get("/removed")).status == 200


# -- wherever and whenever the view is made and reached ------------------------


async def test_a_view_class_created_after_setup(aiohttp_client: AiohttpClient) -> None:
    app = site()

    class Late(AdminAttributeMixin, Body, web.View):
        pass

    app.router.add_view("/late", Late)
    client = await aiohttp_client(app)
    assert (await client.get("/late", headers=as_user("ed"))).status == 403
    assert (await client.get("/late", headers=as_user("root"))).status == 200


async def test_views_in_a_sub_application(aiohttp_client: AiohttpClient) -> None:
    sub = web.Application()
    sub.router.add_view("/page", PlainMixinLast)
    sub.router.add_view("/two", TwoViewBases)
    app = site()
    app.add_subapp("/sub", sub)
    client = await aiohttp_client(app)
    for path in ("/sub/page", "/sub/two"):
        assert (await client.get(path)).status == 401
        assert (await client.get(path, headers=as_user("ed"))).status == 403
        assert (await client.get(path, headers=as_user("root"))).status == 200


async def test_a_view_awaited_by_another_handler(aiohttp_client: AiohttpClient) -> None:
    class Direct(Body, web.View, AdminAttributeMixin):  # never routed itself
        pass

    async def delegate(request: web.Request) -> web.StreamResponse:
        return await Direct(request)

    client = await aiohttp_client(site(web.get("/delegate", delegate)))
    assert (await client.get("/delegate", headers=as_user("ed"))).status == 403
    assert (await client.get("/delegate", headers=as_user("root"))).status == 200


async def test_views_that_dispatch_in_their_own_way(
    aiohttp_client: AiohttpClient,
) -> None:
    trail: list[str] = []

    class Counted(Body, web.View):
        mark = Mark("guard", trail)

    class CallsUp(Counted):
        def __await__(self) -> Generator[None, None, web.StreamResponse]:
            trail.append("own __await__")
            return super().__await__()

    class BypassesUp(Counted):
        def __await__(self) -> Generator[None, None, web.StreamResponse]:
            trail.append("own __await__")
            return self._iter().__await__()

    class OwnIter(Counted):
        async def _iter(self) -> web.StreamResponse:
            trail.append("own _iter")
            return await super()._iter()

    views: dict[str, type[web.View]] = {
        "/calls-up": CallsUp,
        "/bypasses-up": BypassesUp,
        "/own-iter": OwnIter,
    }
    client = await aiohttp_client(site(*(web.view(p, v) for p, v in views.items())))
    for path in ("/calls-up", "/bypasses-up"):
        trail.clear()
        assert (await client.get(path)).status == 200
        assert trail == ["guard", "own __await__"], path
    trail.clear()
    assert (await client.get("/own-iter")).status == 200
    assert trail == ["guard", "own _iter"]


async def test_a_plain_function_guard_on_a_mixin(aiohttp_client: AiohttpClient) -> None:
    async def only_root(request: web.Request) -> None:
        if request.headers.get("X-User") != "root":
            raise web.HTTPForbidden()

    class RootMixin:
        guard = only_root

    class RootPage(RootMixin, Body, web.View):
        pass

    client = await aiohttp_client(site(web.view("/root", RootPage)))
    assert (await client.get("/root", headers=as_user("ed"))).status == 403
    assert (await client.get("/root", headers=as_user("root"))).status == 200


# -- guards that could not be honoured are errors, never dropped ---------------


def test_hiding_an_inherited_guard_is_refused_at_class_creation() -> None:
    with pytest.raises(TypeError, match=r"hides the guard Requires\('admin', \.\.\.\)"):
        type("Hides", (AdminRequired,), {"admin_guard": "nobody"})
    with pytest.raises(TypeError, match=r"Hides\.admin_guard = 'nobody' hides"):
        type("Hides", (AdminAttributeMixin, Body, web.View), {"admin_guard": "nobody"})


def test_a_class_no_view_can_derive_from_cannot_be_decorated() -> None:
    class Colour(enum.Enum):
        RED = 1

    with pytest.raises(TypeError, match=r"Colour can never be a base of a web\.View"):
        Authenticated()(Colour)
    with pytest.raises(TypeError, match="not aiohttp's"):
        Authenticated()(web.View)


class AdminHandlers(AdminAttributeMixin):
    """Handlers as methods: aiohttp calls them as functions, never as a view."""

    async def wipe(self, request: web.Request) -> web.Response:
        return web.Response(text="wiped")


@Authenticated()
class DecoratedHandlers:
    async def show(self, request: web.Request) -> web.Response:
        return web.Response(text="shown")


class Endpoint(AdminAttributeMixin):
    """A callable object, which aiohttp calls as a function."""

    async def __call__(self, request: web.Request) -> web.Response:
        return web.Response(text="called")


@Authenticated()
class ResponsePage(web.Response):
    """A class that aiohttp calls as a function, never as a view."""

    def __init__(self, request: web.Request) -> None:
        super().__init__(text="page")


class StaticHandlers:
    """Handlers as staticmethods of a class with a class guard."""

    guard = Authenticated()

    @staticmethod
    async def show(request: web.Request) -> web.Response:
        return web.Response(text="shown")


class InheritedHandlers(StaticHandlers):
    @staticmethod
    async def more(request: web.Request) -> web.Response:
        return web.Response(text="more")


class AdminPage(AdminRequired):
    async def get(self) -> web.Response:
        return web.Response(text="admin")

    @Authenticated()
    async def post(self) -> web.Response:
        return web.Response(text="posted")


@pytest.mark.parametrize(
    ("route", "owner"),
    [
        (web.get("/static", StaticHandlers.show), "StaticHandlers"),
        (web.get("/inherited", InheritedHandlers.more), "InheritedHandlers"),
        (web.get("/view-method", AdminPage.get), "AdminPage"),  # type: ignore[arg-type]
        (web.post("/view-post", AdminPage.post), "AdminPage"),  # type: ignore[arg-type]
        (web.post("/wipe", AdminHandlers().wipe), "AdminHandlers"),
        (web.get("/show", DecoratedHandlers().show), "DecoratedHandlers"),
        (web.get("/partial", functools.partial(AdminHandlers().wipe)), "AdminHandlers"),
        (web.get("/endpoint", Endpoint()), "Endpoint"),
        (web.get("/page", ResponsePage), "ResponsePage"),  # type: ignore[arg-type]
    ],
)
async def test_class_guards_on_handler_methods_stop_the_app(
    route: web.RouteDef, owner: str
) -> None:
    if isinstance(route.handler, type | Endpoint):
        with pytest.warns(DeprecationWarning, match="Bare functions"):
            app = site(route)
    else:
        app = site(route)
    message = rf"class guards of {owner} .* would never run"
    with pytest.raises(TypeError, match=message):
        AuthService.of(app).routes_report(app)
    with pytest.raises(TypeError, match=message):
        await start(app)


async def test_class_guards_on_handler_methods_fail_closed_without_startup(
    aiohttp_client: AiohttpClient,
) -> None:
    # An app listing the middleware by hand has no startup check: the route
    # refuses every request instead.
    app = web.Application(middlewares=[auth.auth_middleware(HeaderPolicy())])
    app.router.add_post("/wipe", AdminHandlers().wipe)
    client = await aiohttp_client(app)
    assert (await client.post("/wipe", headers=as_user("root"))).status == 500


async def test_a_view_guard_that_is_not_callable_stops_the_app() -> None:
    class Odd(Body, web.View):
        guard = 42

    with pytest.raises(TypeError, match=r"Odd\.guard is 42"):
        await start(site(web.view("/odd", Odd)))


# -- declarations made in less usual ways --------------------------------------


async def test_a_mixin_with_its_own_init_subclass(
    aiohttp_client: AiohttpClient,
) -> None:
    tags: list[str] = []

    class Tagged:
        admin_guard = Requires("admin", SITE)

        def __init_subclass__(cls, *, tag: str = "", **kwargs: Any) -> None:
            super().__init_subclass__(**kwargs)
            tags.append(tag)

    class TaggedPage(Tagged, Body, web.View, tag="page"):
        pass

    async def delegate(request: web.Request) -> web.StreamResponse:
        return await TaggedPage(request)

    assert tags == ["page"]
    client = await aiohttp_client(site(web.get("/tagged", delegate)))
    assert (await client.get("/tagged", headers=as_user("ed"))).status == 403
    assert (await client.get("/tagged", headers=as_user("root"))).status == 200


async def test_decorating_a_class_that_has_subclasses_already(
    aiohttp_client: AiohttpClient,
) -> None:
    class Open(Body, web.View):
        pass

    class OpenToo(Open):
        pass

    app = site(web.view("/open-too", OpenToo))
    assert "GET /open-too -> UNGUARDED" in {
        str(r) for r in AuthService.of(app).routes_report(app)
    }
    Requires("admin", SITE)(Open)
    assert "GET /open-too -> Requires('admin', ...)" in {
        str(r) for r in AuthService.of(app).routes_report(app)
    }
    client = await aiohttp_client(app)
    assert (await client.get("/open-too", headers=as_user("ed"))).status == 403
    assert (await client.get("/open-too", headers=as_user("root"))).status == 200


async def test_a_guard_assigned_to_the_class_later(
    aiohttp_client: AiohttpClient,
) -> None:
    class Configured(Body, web.View):
        pass

    class Changing(Guarded):
        pass

    Configured.guard = Authenticated()  # type: ignore[attr-defined]
    app = site(web.view("/configured", Configured), web.view("/changing", Changing))
    client = await aiohttp_client(app)
    assert (await client.get("/configured")).status == 401
    assert (await client.get("/changing")).status == 401

    Changing.guard = Requires("admin", SITE)
    assert (await client.get("/changing", headers=as_user("ed"))).status == 403
    assert (await client.get("/changing", headers=as_user("root"))).status == 200
    Changing.guard = None
    assert (await client.get("/changing")).status == 200
    del Changing.guard  # LoginRequired's again
    assert (await client.get("/changing")).status == 401
    assert (await client.get("/changing", headers=as_user("ed"))).status == 200


# -- a sibling cannot change another base's guard ------------------------------


class NeutralMixin:
    """A mixin with a neutral default under a name a view base guards with."""

    admin_guard: object = None


class OpeningMixin:
    admin_guard = Public()


class OtherGuardMixin:
    admin_guard = Requires("edit", SITE)


@pytest.mark.parametrize("mixin", [NeutralMixin, OpeningMixin, OtherGuardMixin])
def test_a_sibling_mixin_cannot_remove_or_open_a_bases_guard(mixin: type) -> None:
    message = (
        rf"{mixin.__name__}\.admin_guard = .* shadows the guard "
        r"Requires\('admin', \.\.\.\) of AdminRequired, which "
        rf"{mixin.__name__} does not derive from"
    )
    with pytest.raises(TypeError, match=message):
        type("Sibling", (mixin, AdminRequired, Body), {})
    if mixin is not NeutralMixin:
        # Listed after the view base, the mixin's guard is the one hidden.
        with pytest.raises(TypeError, match="shadows the guard"):
            type("After", (AdminRequired, mixin, Body), {})


async def test_a_sibling_mixin_cannot_remove_a_function_guard() -> None:
    async def only_root(request: web.Request) -> None:
        raise web.HTTPForbidden()

    class RootOnly(web.View):
        guard = only_root

    class Neutral:
        guard = None

    async def create_and_start() -> None:
        sibling = type("Sibling", (Neutral, RootOnly, Body), {})
        await start(site(web.view("/sibling", sibling)))

    # Refused when the class is created, or at the latest at startup.
    with pytest.raises(TypeError, match=r"Neutral\.guard = None shadows the guard"):
        await create_and_start()


async def test_a_subclass_still_replaces_through_a_diamond(
    aiohttp_client: AiohttpClient,
) -> None:
    class Opened(AdminRequired):
        admin_guard = Public()  # type: ignore[assignment]

    class Edit(AdminRequired):
        pass

    class Both(Opened, Edit, Body):  # Opened derives from AdminRequired
        pass

    client = await aiohttp_client(site(web.view("/both", Both)))
    assert (await client.get("/both")).status == 200


# -- every view runs its class guards, whatever armed it -----------------------


async def refuse(request: web.Request) -> None:
    raise web.HTTPForbidden(text="refused")


def awaited(view: type[web.View]) -> web.RouteDef:
    async def delegate(request: web.Request) -> web.StreamResponse:
        return await view(request)

    return web.get("/delegate", delegate)


async def test_a_function_guard_on_a_view_awaited_by_another_handler(
    aiohttp_client: AiohttpClient,
) -> None:
    class Refused(Body, web.View):
        guard = refuse

    class RefusingMixin:
        guard = refuse

    class MixedIn(RefusingMixin, Body, web.View):
        pass

    for view in (Refused, MixedIn):
        client = await aiohttp_client(site(awaited(view)))
        assert (await client.get("/delegate", headers=as_user("root"))).status == 403


async def test_a_base_guard_assigned_after_a_subclass_was_created(
    aiohttp_client: AiohttpClient,
) -> None:
    class Base(web.View):
        pass

    class Sub(Body, Base):
        pass

    Base.guard = Authenticated()  # type: ignore[attr-defined]
    client = await aiohttp_client(site(awaited(Sub)))
    assert (await client.get("/delegate")).status == 401
    assert (await client.get("/delegate", headers=as_user("ed"))).status == 200


async def test_an_init_subclass_that_breaks_the_chain(
    aiohttp_client: AiohttpClient,
) -> None:
    class Middle(LoginRequired):
        def __init_subclass__(cls, **kwargs: Any) -> None:  # no super()
            pass

    class Leaf(Body, Middle):
        def __await__(self) -> Generator[None, None, web.StreamResponse]:
            return self._iter().__await__()

    client = await aiohttp_client(site(awaited(Leaf)))
    assert (await client.get("/delegate")).status == 401
    assert (await client.get("/delegate", headers=as_user("ed"))).status == 200


@pytest.mark.parametrize("default", [None, Authenticated()])
async def test_a_guard_assigned_after_the_first_request(
    aiohttp_client: AiohttpClient, default: Guard[object] | None
) -> None:
    class Late(Body, web.View):
        pass

    client = await aiohttp_client(site(web.view("/late", Late), default=default))
    assert (await client.get("/late", headers=as_user("ed"))).status == 200
    Late.guard = Requires("admin", SITE)  # type: ignore[attr-defined]
    assert (await client.get("/late")).status == 401
    assert (await client.get("/late", headers=as_user("ed"))).status == 403
    assert (await client.get("/late", headers=as_user("root"))).status == 200
    Late.guard = None  # type: ignore[attr-defined]
    expected = 200 if default is None else 401
    assert (await client.get("/late")).status == expected


async def test_a_sibling_views_own_await_still_runs(
    aiohttp_client: AiohttpClient,
) -> None:
    trail: list[str] = []

    class Checked(web.View):
        def __await__(self) -> Generator[None, None, web.StreamResponse]:
            trail.append("own check")
            if self.request.headers.get("X-Token") != "t":
                raise web.HTTPForbidden()
            return super().__await__()

    class Both(LoginRequired, Checked, Body):
        mark = Mark("guard", trail)

    client = await aiohttp_client(site(web.view("/both", Both)))
    assert (await client.get("/both", headers=as_user("ed"))).status == 403
    assert trail == ["guard", "own check"]
    headers = {**as_user("ed"), "X-Token": "t"}
    assert (await client.get("/both", headers=headers)).status == 200
    assert (await client.get("/both", headers={"X-Token": "t"})).status == 401


@pytest.mark.parametrize("name", ["__guard__", "__call__"])
def test_a_guard_under_a_dunder_name_is_refused(name: str) -> None:
    # Python 3.11 wraps errors from __set_name__ in a RuntimeError.
    with pytest.raises((TypeError, RuntimeError)) as info:
        type("Dunder", (Body, web.View), {name: Authenticated()})
    error = info.value.__cause__ or info.value
    assert isinstance(error, TypeError)
    assert f"Dunder.{name} has a dunder name" in str(error)


def refuse_without_quota(request: web.Request) -> None:
    if request.headers.get("X-Quota") != "ok":
        raise web.HTTPTooManyRequests()


class OpenButThrottled(Public):
    """Open to everyone (the default guard leaves it alone), within a quota."""

    async def check(self, request: web.Request) -> None:
        refuse_without_quota(request)


class NeedsQuota:
    """A mixin whose check refuses without the quota header."""

    async def check(self, request: web.Request) -> None:
        refuse_without_quota(request)


class QuotaFromMixin(NeedsQuota, Public):  # no `check` in its own body
    pass


class QuotaAssigned(Public):
    pass


QuotaAssigned.check = NeedsQuota.check  # type: ignore[assignment,method-assign]


@pytest.mark.parametrize(
    "guard_class", [OpenButThrottled, QuotaFromMixin, QuotaAssigned]
)
async def test_a_public_subclass_with_a_check_runs_it_everywhere(
    aiohttp_client: AiohttpClient, guard_class: type[Public]
) -> None:
    """A `Public` subclass's check runs on handlers, view methods, whole
    views and their subclasses, whether its body defines it, a mixin listed
    before `Public` gives it, or it was assigned to the class: it must not
    be taken for `Public`'s own, which checks nothing (the default guard
    leaves the route to it)."""

    class Whole(Body, web.View):
        guard = guard_class()

    class WholeSub(Whole):
        pass

    class Method(web.View):
        @guard_class()
        async def get(self) -> web.Response:
            return web.Response(text="method")

    @guard_class()
    async def function(request: web.Request) -> web.Response:
        return web.Response(text="function")

    app = site(
        web.view("/view", Whole),
        web.view("/sub", WholeSub),
        web.view("/method", Method),
        web.get("/function", function),
        default=Authenticated(),
    )
    client = await aiohttp_client(app)
    for path in ("/view", "/sub", "/method", "/function"):
        assert (await client.get(path)).status == 429, path
        assert (await client.get(path, headers={"X-Quota": "ok"})).status == 200, path
    assert "GET /view -> Public()" in {
        str(r) for r in AuthService.of(app).routes_report(app)
    }
