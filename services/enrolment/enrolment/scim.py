"""SCIM 2.0 (RFC 7643/7644) for identity and HR systems: the User resource over employees.

Resource models, PATCH application, attribute selection and the filter
grammar (RFC 7644 §3.4.2.2, on lark) come from scim2-models; the filter's
tree is translated here to SQL expressions over the employee mirror. The full SCIM document is kept
beside the employee columns, so what a client wrote is what it reads back.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import Field, TypeAdapter, ValidationError
from scim2_models import (
    URN,
    AuthenticationScheme,
    Bulk,
    CaseExact,
    ChangePassword,
    ComplexAttribute,
    Context,
    ETag,
    Extension,
    InvalidFilterException,
    Meta,
    Mutability,
    Patch,
    PatchOp,
    Reference,
    Required,
    ResourceType,
    SCIMException,
    ScimFilter,
    ServiceProviderConfig,
    Sort,
    User,
)
from scim2_models import Error as ScimErrorMessage
from scim2_models import Filter as FilterSupport
from scim2_models.path import (
    AttrPath,
    Comparison,
    FilterNode,
    LogicalExpr,
    LogicalOperator,
    Not,
    Present,
    ValuePath,
)
from sqlalchemy import ColumnElement, and_, func, not_, or_
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from enrolment import events, imports, repository
from enrolment.models import MAX_JOB_LEVEL, Employee, EmployeeRecord, new_id
from upward_common.events import utcnow
from upward_common.limits import (
    LONG_LIST_MAX,
    TEXT_MAX,
    Email,
    Identifier,
    Text,
    TimeZoneName,
)
from upward_common.problems import message_of

SCIM_JSON = "application/scim+json"
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
UPWARD_SCHEMA = "urn:upward:scim:schemas:extension:employee:1.0:User"
MAX_PAGE = 1000
DEFAULT_PAGE = 100
# Caps of what a client sends (README, "Limits"): strings, lists, filters, paging.
FILTER_MAX = TEXT_MAX
FILTER_DEPTH_MAX = 16
INDEX_MAX = 2**31 - 1
BODY_MAX = 1024 * 1024


class ScimError(Exception):
    """A SCIM error response (RFC 7644 §3.12): status, optional scimType, detail."""

    def __init__(self, status: int, detail: str, scim_type: str | None = None,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.scim_type = scim_type
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        message = ScimErrorMessage(status=self.status, scim_type=self.scim_type,
                                   detail=self.detail)
        return message.model_dump(scim_ctx=Context.DEFAULT, exclude_none=True, by_alias=True,
                                  mode="json")

    @classmethod
    def from_scim(cls, exc: SCIMException) -> ScimError:
        return cls(exc.status, exc.detail, exc.scim_type or None)

    @classmethod
    def from_validation(cls, exc: ValidationError) -> ScimError:
        raw = exc.errors()
        errors = ScimErrorMessage.from_validation_errors(raw)
        first = errors[0] if errors else None
        # The detail in our words, naming the attribute (never the model's class names).
        detail = (f"{'.'.join(str(part) for part in raw[0]['loc']) or 'body'}: "
                  f"{message_of(raw[0])}" if raw else "Invalid value")
        if first is None:
            return cls(400, detail, "invalidValue")
        return cls(first.status or 400, detail, first.scim_type or "invalidValue")


# --- resource models -------------------------------------------------------------


class Manager(ComplexAttribute):
    """The enterprise manager; identity providers send `value` alone, so `$ref` is optional."""

    value: Annotated[str | None, CaseExact.true] = None
    ref: Annotated[Reference[User] | None, Required.false] = Field(  # type: ignore[type-arg]
        None, serialization_alias="$ref", validation_alias="$ref")
    display_name: Annotated[str | None, Mutability.read_only] = None


class EnterpriseUser(Extension):
    """RFC 7643 §4.3 enterprise extension."""

    __schema__ = URN(ENTERPRISE_SCHEMA)

    employee_number: str | None = None
    cost_center: str | None = None
    organization: str | None = None
    division: str | None = None
    department: str | None = None
    manager: Manager | None = None


class UpwardUser(Extension):
    """Upward's extension: what matching and analytics need beyond the enterprise schema."""

    __schema__ = URN(UPWARD_SCHEMA)

    # `examples` guide generated test data (and publish as suggested values).
    job_level: int | None = Field(
        None, examples=list(range(1, MAX_JOB_LEVEL + 1)),
        description=f"Job level, 1 (most junior) to {MAX_JOB_LEVEL} (most senior).")
    hire_date: str | None = Field(
        None, examples=["2018-09-03", "2021-01-11", "2024-06-17"],
        description="Hire date, ISO 8601 YYYY-MM-DD, not in the future.")
    leave_date: str | None = Field(
        None, examples=["2031-06-30", "2032-12-31"],
        description="Leave date, ISO 8601 YYYY-MM-DD; leavers are kept, never deleted.")
    location: str | None = Field(
        None, examples=["Paris", "Lyon", "New York"],
        description="Work location (site or city).")
    time_zone: str | None = Field(
        None, examples=["Europe/Paris", "America/New_York", "Asia/Singapore"],
        description="IANA time zone the employee works in, e.g. Europe/Paris.")


class _PublishedUpwardUser(UpwardUser):
    """The published schema: SCIM's canonical values are strings, so the level has none."""

    job_level: int | None = Field(
        None, description=f"Job level, 1 (most junior) to {MAX_JOB_LEVEL} (most senior).")


UserResource = User[EnterpriseUser | UpwardUser]


def service_provider_config(base_url: str) -> dict[str, Any]:
    config = ServiceProviderConfig(
        documentation_uri=None,
        patch=Patch(supported=True),
        bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
        filter=FilterSupport(supported=True, max_results=MAX_PAGE),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=False),
        etag=ETag(supported=True),
        authentication_schemes=[AuthenticationScheme(
            type="oauthbearertoken", name="OAuth Bearer Token",
            description="A bearer JWT with the hris role", primary=True)],
        meta=Meta(resource_type="ServiceProviderConfig",
                  location=f"{base_url}/ServiceProviderConfig"),
    )
    return _dump(config, Context.RESOURCE_QUERY_RESPONSE)


def resource_types(base_url: str) -> list[dict[str, Any]]:
    resource_type = ResourceType.from_resource(UserResource)
    resource_type.description = "Employees, provisioned by the HRIS or identity provider"
    resource_type.meta = Meta(resource_type="ResourceType",
                              location=f"{base_url}/ResourceTypes/User")
    return [_dump(resource_type, Context.RESOURCE_QUERY_RESPONSE)]


def schemas(base_url: str) -> list[dict[str, Any]]:
    out = []
    for model, description in (
        (User, "User account"),
        (EnterpriseUser, "Enterprise user"),
        (_PublishedUpwardUser, "Upward employee attributes: job level, hire and leave "
                               "dates, location and time zone"),
    ):
        schema = model.to_schema()
        if model is User:
            _mark_required(schema)
        schema.name = model.__name__.removeprefix("_Published")
        schema.description = description
        schema.meta = Meta(resource_type="Schema", location=f"{base_url}/Schemas/{schema.id}")
        out.append(_dump(schema, Context.RESOURCE_QUERY_RESPONSE))
    return out


# What enrolment refuses a User without, beyond the core schema's `userName` (the
# import's required columns; an e-mail may come as a userName that is one, so `emails`
# stays optional).
REQUIRED_USER_ATTRIBUTES = {"name": ("givenName", "familyName")}


def _mark_required(schema: Any) -> None:
    """Mark in the published User schema the attributes `_record` refuses a User without."""
    for attribute in schema.attributes:
        wanted = REQUIRED_USER_ATTRIBUTES.get(attribute.name)
        if wanted is None:
            continue
        attribute.required = Required.true
        for sub in attribute.sub_attributes or []:
            if sub.name in wanted:
                sub.required = Required.true


def _dump(model: Any, context: Context, **kwargs: Any) -> dict[str, Any]:
    dumped: dict[str, Any] = model.model_dump(scim_ctx=context, **kwargs)
    return dumped


# --- employee <-> resource -------------------------------------------------------


def etag(employee: Employee) -> str:
    return f'W/"{employee.version}"'


def to_resource(employee: Employee, base_url: str) -> Any:
    """The User resource of an employee: the stored document with the mirror's values on top."""
    doc: dict[str, Any] = dict(employee.scim_attributes or {})
    doc.pop("id", None)
    doc.pop("meta", None)
    doc["userName"] = employee.user_name or employee.email or employee.external_id
    if employee.scim_attributes is None and not employee.external_id.startswith("scim:"):
        doc["externalId"] = employee.external_id
    name = dict(doc.get("name") or {})
    if employee.given_name:
        name["givenName"] = employee.given_name
    if employee.family_name:
        name["familyName"] = employee.family_name
    if name:
        doc["name"] = name
    if employee.email:
        emails = [dict(e) for e in doc.get("emails") or []]
        primary = next((e for e in emails if e.get("primary")), emails[0] if emails else None)
        if primary is None:
            emails = [{"value": employee.email, "primary": True}]
        else:
            primary["value"] = employee.email
        doc["emails"] = emails
    _put(doc, "title", employee.job_title)
    if employee.scim_attributes is None or "active" in doc or not employee.active:
        doc["active"] = employee.active
    enterprise = dict(doc.get(ENTERPRISE_SCHEMA) or {})
    _put(enterprise, "department", employee.department)
    if employee.manager_id is not None:
        manager = dict(enterprise.get("manager") or {})
        manager["value"] = employee.manager_id
        manager["$ref"] = f"{base_url}/Users/{employee.manager_id}"
        enterprise["manager"] = manager
    else:
        enterprise.pop("manager", None)
    upward = dict(doc.get(UPWARD_SCHEMA) or {})
    _put(upward, "jobLevel", employee.job_level)
    _put(upward, "hireDate", employee.hire_on.isoformat() if employee.hire_on else None)
    _put(upward, "leaveDate", employee.leave_on.isoformat() if employee.leave_on else None)
    _put(upward, "location", employee.location)
    _put(upward, "timeZone", employee.time_zone)
    schemas_listed = ["urn:ietf:params:scim:schemas:core:2.0:User"]
    for urn, extension in ((ENTERPRISE_SCHEMA, enterprise), (UPWARD_SCHEMA, upward)):
        if extension:
            doc[urn] = extension
            schemas_listed.append(urn)
        else:
            doc.pop(urn, None)
    doc["schemas"] = schemas_listed
    doc["id"] = employee.id
    doc["meta"] = {
        "resourceType": "User",
        "created": employee.created_at.isoformat(),
        "lastModified": employee.updated_at.isoformat(),
        "version": etag(employee),
        "location": f"{base_url}/Users/{employee.id}",
    }
    return UserResource.model_validate(doc)


def _put(target: dict[str, Any], key: str, value: Any) -> None:
    if value is None:
        target.pop(key, None)
    else:
        target[key] = value


_IDENTIFIER: TypeAdapter[str] = TypeAdapter(Identifier)
_EMAIL: TypeAdapter[str] = TypeAdapter(Email)
_TEXT: TypeAdapter[str] = TypeAdapter(Text)
_TIME_ZONE: TypeAdapter[str] = TypeAdapter(TimeZoneName)


def _capped(adapter: TypeAdapter[str], value: str | None, attribute: str) -> None:
    """A 400 invalidValue naming the attribute when a value breaks its cap."""
    if value is None:
        return
    try:
        adapter.validate_python(value)
    except ValidationError as exc:
        reason = message_of(exc.errors()[0])
        raise ScimError(400, f"{attribute}: {reason}", "invalidValue") from exc


def _check_strings(value: Any, path: str = "") -> None:
    """Every string of a document at most `TEXT_MAX`, without NUL or other control
    characters (newlines and tabs aside); every list at most `LONG_LIST_MAX` items."""
    stack: list[tuple[str, Any]] = [(path, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            _capped(_TEXT, item, where or "value")
        elif isinstance(item, dict):
            stack.extend((f"{where}.{key}" if where else str(key), inner)
                         for key, inner in item.items())
        elif isinstance(item, list):
            if len(item) > LONG_LIST_MAX:
                raise ScimError(400, f"{where}: at most {LONG_LIST_MAX} values",
                                "invalidValue")
            stack.extend((f"{where}[{index}]", inner) for index, inner in enumerate(item))


def _check_caps(user: Any, enterprise: EnterpriseUser, upward: UpwardUser,
                core_zone: str | None) -> None:
    _capped(_EMAIL, user.user_name, "userName")  # often an email; one line of 254 at most
    _capped(_IDENTIFIER, user.external_id, "externalId")
    for index, email in enumerate(user.emails or []):
        _capped(_EMAIL, email.value, f"emails[{index}].value")
    _capped(_TIME_ZONE, core_zone, "timezone")
    if enterprise.manager is not None:
        _capped(_IDENTIFIER, enterprise.manager.value, "manager.value")
    # The attributes that become employee columns are checked by `_record` below,
    # as the file import checks them; everything else is kept as sent.
    _check_strings(_document(user))


# Import columns and the SCIM attributes they come from, to name the attribute.
SCIM_ATTRIBUTE = {
    "external_id": "externalId", "email": "emails", "given_name": "name.givenName",
    "family_name": "name.familyName", "job_title": "title", "job_level": "jobLevel",
    "department": "department", "manager_external_id": "manager.value",
    "location": "location", "time_zone": "timeZone", "hire_date": "hireDate",
    "leave_date": "leaveDate", "active": "active",
}


def _record(user: Any, enterprise: EnterpriseUser, upward: UpwardUser,
            time_zone: str | None) -> EmployeeRecord:
    """The resource as an import row, checked by the import's own rules (one validation
    for both channels); a 400 invalidValue names the SCIM attribute of a problem."""
    primary = next((e for e in user.emails or [] if e.primary), None)
    email = (primary or (user.emails or [None])[0])
    # Without an e-mail, a userName that is one (as most identity providers send it).
    email_value = email.value if email is not None and email.value else user.user_name
    name = user.name
    record: dict[str, Any] = {
        "external_id": user.external_id or "scim",
        "email": email_value,
        "given_name": name.given_name if name else None,
        "family_name": name.family_name if name else None,
        "job_title": user.title or None,
        "job_level": upward.job_level,
        "department": enterprise.department or None,
        "location": upward.location or None,
        "time_zone": time_zone,
        "hire_date": upward.hire_date,
        "leave_date": upward.leave_date,
    }
    validated, problems = imports.employee_problems(record, utcnow().date())
    if validated is None:
        field, reason = problems[0]
        attribute = SCIM_ATTRIBUTE.get(field.split(".")[0], field)
        raise ScimError(400, f"{attribute}: {reason}", "invalidValue")
    return validated


# What the HR export owns beside SCIM (README, "Which channel owns what"): a SCIM
# POST adopting an imported employee or a PUT that does not send one keeps it.
HR_OWNED = ("job_title", "department", "manager_id", "job_level", "hire_on", "leave_on",
            "location", "time_zone")


def _columns(user: Any, stored: Mapping[str, Any] | None = None,
             keep: Employee | None = None) -> dict[str, Any]:
    """The employee columns a resource sets, checked like an import row.

    With `keep`, an HR attribute the resource does not carry keeps `keep`'s value
    instead of being cleared (a POST adopting an employee, a PUT).

    `stored` is the document kept so far: a core `timezone` that is no IANA zone
    was once kept as sent and ignored, and still is while a client leaves it as
    it was, so a PATCH that deactivates such a user goes through.
    """
    enterprise = user[EnterpriseUser] or EnterpriseUser()
    upward = user[UpwardUser] or UpwardUser()
    core_zone = user.timezone or None
    if (core_zone is not None and stored is not None and core_zone == stored.get("timezone")
            and not imports.known_time_zone(core_zone)):
        core_zone = None
    _check_caps(user, enterprise, upward, core_zone)
    # The extension's zone wins, the core one fills in.
    record = _record(user, enterprise, upward, upward.time_zone or core_zone)
    values = {
        "user_name": user.user_name,
        "email": record["email"],
        "given_name": record["given_name"],
        "family_name": record["family_name"],
        "job_title": record.get("job_title"),
        "department": record.get("department"),
        "manager_id": enterprise.manager.value if enterprise.manager else None,
        "job_level": record.get("job_level"),
        "hire_on": record.get("hire_date"),
        "leave_on": record.get("leave_date"),
        "location": record.get("location"),
        "time_zone": record.get("time_zone"),
        "active": True if user.active is None else user.active,
    }
    if keep is not None:
        for key in HR_OWNED:
            if values[key] is None:
                values[key] = getattr(keep, key)
    return values


def _document(user: Any) -> dict[str, Any]:
    doc: dict[str, Any] = user.model_dump(scim_ctx=Context.DEFAULT, exclude_none=True,
                                          by_alias=True, mode="json")
    for key in ("id", "meta", "schemas"):
        doc.pop(key, None)
    return doc


# --- filters -----------------------------------------------------------------------

_CORE_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:user"
_FILTER_COLUMNS: dict[tuple[str, str | None], tuple[Any, type, bool]] = {
    ("id", None): (col(Employee.id), str, True),
    ("username", None): (func.coalesce(col(Employee.user_name), col(Employee.email)),
                         str, False),
    ("externalid", None): (col(Employee.external_id), str, True),
    ("emails", None): (col(Employee.email), str, False),
    ("emails", "value"): (col(Employee.email), str, False),
    ("active", None): (col(Employee.active), bool, True),
    ("title", None): (col(Employee.job_title), str, False),
    ("name", "givenname"): (col(Employee.given_name), str, False),
    ("name", "familyname"): (col(Employee.family_name), str, False),
    ("meta", "lastmodified"): (col(Employee.updated_at), datetime, True),
    ("meta", "created"): (col(Employee.created_at), datetime, True),
    ("enterprise:department", None): (col(Employee.department), str, False),
    ("enterprise:manager", "value"): (col(Employee.manager_id), str, True),
    ("upward:joblevel", None): (col(Employee.job_level), int, True),
    ("upward:location", None): (col(Employee.location), str, False),
    ("upward:timezone", None): (col(Employee.time_zone), str, True),
    ("upward:hiredate", None): (col(Employee.hire_on), date, True),
    ("upward:leavedate", None): (col(Employee.leave_on), date, True),
}


def _column(attr: AttrPath, namespace: AttrPath | None) -> tuple[Any, type, bool]:
    """(column expression, type, case-exact) of a filter attribute path.

    Inside `emails[...]` the path names a sub-attribute of the selected one. An
    extension attribute may be named without its schema URN when no core
    attribute has that name (`jobLevel ge 17`), as identity providers send it.
    """
    sub: str | None
    if namespace is not None:
        name, sub, uri = namespace.attr, attr.attr, (namespace.uri or "").lower()
    else:
        name, sub, uri = attr.attr, attr.sub_attr, (attr.uri or "").lower()
    key = (name.lower(), sub.lower() if sub else None)
    if uri == ENTERPRISE_SCHEMA.lower():
        candidates = [("enterprise:" + key[0], key[1])]
    elif uri == UPWARD_SCHEMA.lower():
        candidates = [("upward:" + key[0], key[1])]
    elif uri and uri != _CORE_SCHEMA:
        raise ScimError(400, f"Unknown schema {uri}", "invalidFilter")
    elif uri:
        candidates = [key]
    else:
        candidates = [key, ("upward:" + key[0], key[1]), ("enterprise:" + key[0], key[1])]
    for candidate in candidates:
        found = _FILTER_COLUMNS.get(candidate)
        if found is not None:
            return found
    shown = f"{name}.{sub}" if sub else name
    raise ScimError(400, f"Filtering on {shown} is not supported", "invalidFilter")


def _value(raw: Any, kind: type) -> Any:
    """The filter's literal as the column's type: a JSON number, boolean or string."""
    try:
        if kind is bool:
            if isinstance(raw, bool):
                return raw
            if isinstance(raw, str) and raw.lower() in ("true", "false"):
                return raw.lower() == "true"
            raise ValueError(raw)
        if isinstance(raw, bool):
            raise ValueError(raw)
        if kind is int:
            if isinstance(raw, float) and raw.is_integer():
                return int(raw)
            if isinstance(raw, int):
                return raw
            if isinstance(raw, str) and raw.strip().lstrip("-").isdigit():
                return int(raw)
            raise ValueError(raw)
        if not isinstance(raw, str):
            raise ValueError(raw)
        if kind is datetime:
            return datetime.fromisoformat(raw.replace("Z", "+00:00"))
        if kind is date:
            return date.fromisoformat(raw[:10])
    except ValueError as exc:
        raise ScimError(400, f"{raw!r} is not a valid {kind.__name__} here",
                        "invalidFilter") from exc
    return raw


def _compare(attr: AttrPath, op: str, raw: Any,
             namespace: AttrPath | None) -> ColumnElement[bool]:
    column, kind, case_exact = _column(attr, namespace)
    if op == "pr":
        present = column.is_not(None)
        return and_(present, column != "") if kind is str else present
    if raw is None:
        if op in ("eq", "ne"):
            nullness: ColumnElement[bool] = (column.is_(None) if op == "eq"
                                             else column.is_not(None))
            return nullness
        raise ScimError(400, "null compares only with eq and ne", "invalidFilter")
    if op in ("co", "sw", "ew") and kind is not str:
        raise ScimError(400, f"{op} needs a string attribute", "invalidFilter")
    if kind is bool and op not in ("eq", "ne"):
        raise ScimError(400, f"{op} does not apply to a boolean", "invalidFilter")
    value = _value(raw, kind)
    if kind is str and not case_exact:
        column, value = func.lower(column), value.lower()
    if op in ("co", "sw", "ew"):
        method = {"co": column.contains, "sw": column.startswith, "ew": column.endswith}[op]
        return method(value, autoescape=True)  # type: ignore[no-any-return]
    comparisons = {"eq": column.__eq__, "ne": column.__ne__, "gt": column.__gt__,
                   "ge": column.__ge__, "lt": column.__lt__, "le": column.__le__}
    if op not in comparisons:
        raise ScimError(400, f"Unknown operator {op}", "invalidFilter")
    result: ColumnElement[bool] = comparisons[op](value)
    if op == "ne":
        result = or_(result, column.is_(None))
    return result


def _translate(node: FilterNode, namespace: AttrPath | None = None) -> ColumnElement[bool]:
    if isinstance(node, LogicalExpr):
        # The parser keeps `a or b or c` as one node: neither this nor the SQL nests.
        operands = [_translate(term, namespace) for term in node.terms]
        return and_(*operands) if node.op == LogicalOperator.and_ else or_(*operands)
    if isinstance(node, Not):
        return not_(_translate(node.expr, namespace))
    if isinstance(node, Present):
        return _compare(node.attr_path, "pr", None, namespace)
    if isinstance(node, Comparison):
        return _compare(node.attr_path, node.op.value, node.value, namespace)
    if isinstance(node, ValuePath) and namespace is None and node.sub_attr is None:
        # `emails[value ew "@corp.example"]`: the brackets filter the selected attribute.
        return _translate(node.val_filter, node.attr_path)
    raise ScimError(400, "Unsupported filter expression", "invalidFilter")


def check_filter_text(filter_text: str) -> None:
    """At most `FILTER_MAX` characters, one line, groups nested `FILTER_DEPTH_MAX` deep."""
    if len(filter_text) > FILTER_MAX:
        raise ScimError(400, f"The filter is longer than {FILTER_MAX} characters",
                        "invalidFilter")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in filter_text):
        raise ScimError(400, "The filter contains control characters", "invalidFilter")
    depth, quoted, escaped = 0, False, False
    for char in filter_text:
        if quoted:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                quoted = False
        elif char == '"':
            quoted = True
        elif char in "([":
            depth += 1
            if depth > FILTER_DEPTH_MAX:
                raise ScimError(400, f"The filter nests groups more than {FILTER_DEPTH_MAX} "
                                     "deep", "invalidFilter")
        elif char in ")]":
            depth -= 1


def where(filter_text: str | None) -> ColumnElement[bool] | None:
    """The SQL condition of a SCIM filter, or None when there is no filter."""
    if filter_text is None or not filter_text.strip():
        return None
    check_filter_text(filter_text)
    try:
        tree = ScimFilter(filter_text).ast
    except InvalidFilterException as exc:
        raise ScimError(400, f"The filter cannot be parsed: {exc.detail}",
                        "invalidFilter") from exc
    return _translate(tree)


# --- operations --------------------------------------------------------------------


def _check_version(employee: Employee, if_match: str | None) -> None:
    if if_match is None or if_match.strip() == "*":
        return
    wanted = {tag.strip() for tag in if_match.split(",")}
    current = etag(employee)
    if current not in wanted and current.removeprefix("W/") not in wanted:
        raise ScimError(412, f"The resource is at version {current}")


async def _visible(session: AsyncSession, user_id: str) -> Employee:
    try:
        _IDENTIFIER.validate_python(user_id)
    except ValidationError as exc:  # no id of ours looks like that: nothing to look up
        raise ScimError(404, "No user has that id") from exc
    employee = await repository.get_employee(session, user_id)
    if employee is None or employee.erased_at is not None or employee.deprovisioned_at:
        raise ScimError(404, f"User {user_id} not found")
    return employee


async def get_user(session: AsyncSession, *, user_id: str) -> Employee:
    """One provisioned employee or a SCIM 404."""
    return await _visible(session, user_id)


async def list_users(
    session: AsyncSession, *, filter_text: str | None, start_index: int, count: int | None
) -> tuple[int, list[Employee]]:
    """A page of employees matching a SCIM filter (1-based start index)."""
    for name, value in (("startIndex", start_index), ("count", count)):
        if value is not None and abs(value) > INDEX_MAX:
            raise ScimError(400, f"{name} must be at most {INDEX_MAX}", "invalidValue")
    condition = where(filter_text)
    size = DEFAULT_PAGE if count is None else max(0, min(count, MAX_PAGE))
    visible: ColumnElement[bool] = col(Employee.deprovisioned_at).is_(None)
    total, page = await repository.search_employees(
        session, and_(visible, condition) if condition is not None else visible,
        offset=max(start_index, 1) - 1, limit=size)
    return total, list(page)


async def _check_manager(session: AsyncSession, employee_id: str, manager_id: str | None) -> None:
    if manager_id is None:
        return
    if manager_id == employee_id:
        raise ScimError(400, "A user cannot be their own manager", "invalidValue")
    manager = await repository.get_employee(session, manager_id)
    if manager is None or manager.erased_at is not None:
        raise ScimError(400, f"Manager {manager_id} is not a known user", "invalidValue")
    chain = await repository.manager_chain(session, manager)
    if employee_id in chain:
        raise ScimError(400, "This manager would make the reporting lines loop",
                        "invalidValue")


async def _unique_user_name(session: AsyncSession, user_name: str, employee_id: str,
                            values: Mapping[str, Any]) -> None:
    """userName is unique; an active user's userName and e-mail are no other active one's.

    The CSV import applies the same rule by row (`imports.reject_taken_emails`).
    """
    other = await repository.employee_by_user_name(session, user_name)
    if other is not None and other.id != employee_id:
        raise ScimError(409, f"userName {user_name!r} is already taken", "uniqueness")
    if not values["active"]:
        return
    for attribute, wanted in (("userName", user_name), ("emails", values["email"])):
        if not wanted:
            continue
        other = await repository.active_employee_by_email(session, wanted)
        if other is not None and other.id != employee_id:
            raise ScimError(409, f"{attribute} {wanted!r} is another active user's e-mail",
                            "uniqueness")


async def create_user(session: AsyncSession, *, payload: Any) -> Employee:
    """Provision a user; an employee known from a file import with that externalId is adopted."""
    user = _validate(payload, Context.RESOURCE_CREATION_REQUEST)
    existing = None
    if user.external_id:
        existing = await repository.employee_by_external_id(session, user.external_id)
        if existing is not None and (existing.user_name and not existing.deprovisioned_at):
            raise ScimError(409, f"externalId {user.external_id!r} is already provisioned",
                            "uniqueness")
        if existing is not None and existing.erased_at is not None:
            existing = None
    values = _columns(user, keep=existing)
    employee_id = existing.id if existing is not None else new_id()
    await _unique_user_name(session, user.user_name, employee_id, values)
    await _check_manager(session, employee_id, values["manager_id"])
    now = utcnow()
    if existing is None:
        employee = Employee(id=employee_id, external_id=user.external_id or f"scim:{employee_id}",
                            created_at=now, updated_at=now, scim_attributes=_document(user),
                            **values)
        session.add(employee)
    else:
        employee = existing
        for key, value in values.items():
            setattr(employee, key, value)
        employee.scim_attributes = _document(user)
        employee.deprovisioned_at = None
        employee.version += 1
        employee.updated_at = now
    await session.flush()
    await events.employee_updated(session, employee)
    return employee


async def replace_user(
    session: AsyncSession, *, user_id: str, payload: Any, if_match: str | None, base_url: str
) -> Employee:
    """PUT: the resource becomes what was sent (read-only and immutable values kept)."""
    employee = await _visible(session, user_id)
    _check_version(employee, if_match)
    user = _validate(payload, Context.RESOURCE_REPLACEMENT_REQUEST)
    original = to_resource(employee, base_url)
    try:
        user.replace(original)
    except SCIMException as exc:
        raise ScimError.from_scim(exc) from exc
    return await _store(session, employee, user, keep_unsent=True)


async def patch_user(
    session: AsyncSession, *, user_id: str, payload: Any, if_match: str | None, base_url: str
) -> Employee:
    """PATCH: add / replace / remove operations, applied all or nothing."""
    employee = await _visible(session, user_id)
    _check_version(employee, if_match)
    try:
        patch = PatchOp[UserResource].model_validate(
            payload, scim_ctx=Context.RESOURCE_PATCH_REQUEST)
        user = to_resource(employee, base_url)
        patch.patch(user)
    except ValidationError as exc:
        raise ScimError.from_validation(exc) from exc
    except SCIMException as exc:
        raise ScimError.from_scim(exc) from exc
    return await _store(session, employee, user)


async def _store(session: AsyncSession, employee: Employee, user: Any,
                 keep_unsent: bool = False) -> Employee:
    values = _columns(user, employee.scim_attributes, employee if keep_unsent else None)
    if not user.user_name:
        raise ScimError(400, "userName is required", "invalidValue")
    await _unique_user_name(session, user.user_name, employee.id, values)
    await _check_manager(session, employee.id, values["manager_id"])
    document = _document(user)
    if user.external_id:
        if user.external_id != employee.external_id:
            other = await repository.employee_by_external_id(session, user.external_id)
            if other is not None and other.id != employee.id:
                raise ScimError(409, f"externalId {user.external_id!r} belongs to another user",
                                "uniqueness")
            values["external_id"] = user.external_id
    elif employee.scim_attributes is not None and employee.scim_attributes.get("externalId"):
        values["external_id"] = f"scim:{employee.id}"
    moved = values["manager_id"] != employee.manager_id
    leaving = employee.active and not values["active"]
    changed = any(getattr(employee, k) != v for k, v in values.items()) or (
        document != employee.scim_attributes)
    if not changed:
        return employee
    for key, value in values.items():
        setattr(employee, key, value)
    employee.scim_attributes = document
    employee.version += 1
    employee.updated_at = utcnow()
    await session.flush()
    left = (await repository.participants_leave(session, [employee.id], employee.updated_at)
            if leaving else [])
    await events.employee_updated(session, employee)
    # After the departure itself, so matching ends the pairs as a departure.
    events.participants_left(session, left, employee.updated_at)
    if moved:
        await _republish_reports(session, employee.id)
    return employee


async def _republish_reports(session: AsyncSession, employee_id: str) -> None:
    """Everyone below someone who moved has a new manager chain."""
    stack = [employee_id]
    seen = {employee_id}
    while stack:
        for report in await repository.direct_reports(session, stack.pop()):
            if report.id not in seen:
                seen.add(report.id)
                stack.append(report.id)
                await events.employee_updated(session, report)


async def delete_user(session: AsyncSession, *, user_id: str, if_match: str | None) -> None:
    """Deprovision: gone from SCIM, kept as an inactive leaver for retention analytics."""
    employee = await _visible(session, user_id)
    _check_version(employee, if_match)
    now = utcnow()
    employee.deprovisioned_at = now
    employee.user_name = None
    left = (await repository.participants_leave(session, [employee.id], now)
            if employee.active else [])
    employee.active = False
    if employee.leave_on is None:
        employee.leave_on = now.date()
    employee.version += 1
    employee.updated_at = now
    await session.flush()
    await events.employee_updated(session, employee)
    events.participants_left(session, left, now)


def _validate(payload: Any, context: Context) -> Any:
    if not isinstance(payload, dict):
        raise ScimError(400, "The body must be a JSON object", "invalidSyntax")
    try:
        return UserResource.model_validate(payload, scim_ctx=context)
    except ValidationError as exc:
        raise ScimError.from_validation(exc) from exc
    except SCIMException as exc:
        raise ScimError.from_scim(exc) from exc
