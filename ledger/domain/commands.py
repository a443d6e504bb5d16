"""Commands: what users ask the ledger to do, validated before anything is decided.

One JSON object per line with `type`, `at` (business date), optional
`command_id` (idempotency key) and optional `actor`. Money is a decimal string.
Validation errors name the field and the reason (`CommandError`).
"""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

import orjson
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
)

from ledger.rules.money import MoneyError, parse_money

MAX_LINES = 64
MAX_ASSETS = 256
MAX_SMS_MESSAGES = 1_000_000_000


class CommandError(ValueError):
    """A command was refused. `field` names the offending field ('' if none)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.field = field
        self.reason = reason


def _iso_date(value: Any) -> date:
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise ValueError("must be an ISO date string YYYY-MM-DD")
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a valid date (YYYY-MM-DD)") from None
    if len(value) != 10 or not (2000 <= parsed.year <= 2100):
        raise ValueError(f"{value!r} is out of range (YYYY-MM-DD, years 2000-2100)")
    return parsed


def _money(value: Any) -> Decimal:
    try:
        return parse_money(value)
    except MoneyError as e:
        raise ValueError(str(e)) from None


def _rate(value: Any) -> Decimal:
    try:
        return parse_money(value, allow_zero=True, places=4)
    except MoneyError as e:
        raise ValueError(str(e)) from None


def _signed_money(value: Any) -> Decimal:
    try:
        return parse_money(value, allow_negative=True)
    except MoneyError as e:
        raise ValueError(str(e)) from None


IsoDate = Annotated[date, BeforeValidator(_iso_date)]
Money = Annotated[Decimal, BeforeValidator(_money)]
Rate = Annotated[Decimal, BeforeValidator(_rate)]
SignedMoney = Annotated[Decimal, BeforeValidator(_signed_money)]
Ident = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64,
                                         pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$")]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class Command(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)

    type: str
    at: IsoDate
    command_id: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    actor: Annotated[str, StringConstraints(min_length=1, max_length=100)] = "cli"

    def payload_digest(self) -> str:
        """SHA-256 of the command without its idempotency key: same id + same digest
        means the same command."""
        body = self.model_dump(mode="json", exclude={"command_id", "actor"})
        return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


class ContractCommand(Command):
    contract_id: Ident


class LineInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    line_id: Ident
    kind: Literal["internet", "circuit", "ipvpn"]
    monthly_fee: Money


class AssetInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    asset_id: Ident
    description: Text
    value: Money


class SignContract(ContractCommand):
    type: Literal["sign_contract"]
    customer: Text
    term_start: IsoDate
    term_end: IsoDate
    billing_mode: Literal["prepaid", "postpaid"]
    cross_border: bool = False
    lines: Annotated[list[LineInput], Field(min_length=1, max_length=MAX_LINES)]
    sms_quota: Annotated[int, Field(ge=0, le=MAX_SMS_MESSAGES, strict=True)] = 0
    sms_overage_rate: Rate = Decimal("0.00")
    equipment: Annotated[list[AssetInput], Field(max_length=MAX_ASSETS)] = []


class SubmitTestReport(ContractCommand):
    __test__ = False
    type: Literal["submit_test_report"]
    line_id: Ident


class ConfirmActivation(ContractCommand):
    type: Literal["confirm_activation"]
    line_id: Ident


class RecordPayment(ContractCommand):
    type: Literal["record_payment"]
    amount: Money
    reference: Text


class AdjustTariff(ContractCommand):
    type: Literal["adjust_tariff"]
    line_id: Ident
    monthly_fee: Money
    effective: IsoDate


class RecordSmsUsage(ContractCommand):
    type: Literal["record_sms_usage"]
    messages: Annotated[int, Field(ge=0, le=MAX_SMS_MESSAGES, strict=True)]


class RecordAcceptance(ContractCommand):
    type: Literal["record_acceptance"]


class GiveTerminationNotice(ContractCommand):
    type: Literal["give_termination_notice"]
    party: Literal["customer", "operator"]


class Terminate(ContractCommand):
    type: Literal["terminate"]
    reason: Literal["breach", "mutual"]


class RecoverEquipment(ContractCommand):
    type: Literal["recover_equipment"]
    asset_id: Ident


class ReportEquipmentLost(ContractCommand):
    type: Literal["report_equipment_lost"]
    asset_id: Ident


class RecordIcpFiling(ContractCommand):
    type: Literal["record_icp_filing"]
    line_id: Ident
    address: Text
    filing_number: Text


DisputeId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80,
                                             pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*/D[0-9]{4,}$")]
MonthKey = Annotated[str, StringConstraints(strip_whitespace=True,
                                            pattern=r"^20[0-9]{2}-(0[1-9]|1[0-2])$")]


class OpenDispute(ContractCommand):
    """R13 (Art.3.6): Party A questions the charges of a service month (or one line's)."""

    type: Literal["open_dispute"]
    month: MonthKey
    question: Text
    line_id: Ident | None = None


class ResolveDispute(Command):
    """R13 (Art.3.6): a dispute's outcome; an adjustment (credit negative, debit positive)
    is posted as a new charge linked to the dispute and the items it corrects."""

    type: Literal["resolve_dispute"]
    dispute_id: DisputeId
    outcome: Literal["upheld", "partly_upheld", "rejected"]
    reason: Text
    adjustment: SignedMoney | None = None
    charge_ids: Annotated[list[Annotated[str, StringConstraints(max_length=100)]],
                          Field(max_length=1000)] = []

    @property
    def contract_id(self) -> str:
        """A dispute id is "<contract_id>/D0001": the contract is found from it alone."""
        return self.dispute_id.rsplit("/D", 1)[0]


AnyCommand = Annotated[
    SignContract | SubmitTestReport | ConfirmActivation | RecordPayment | AdjustTariff
    | RecordSmsUsage | RecordAcceptance | GiveTerminationNotice | Terminate
    | RecoverEquipment | ReportEquipmentLost | RecordIcpFiling | OpenDispute | ResolveDispute,
    Field(discriminator="type"),
]
_ADAPTER: TypeAdapter[Any] = TypeAdapter(AnyCommand)
COMMAND_TYPES = tuple(sorted(
    m.model_fields["type"].annotation.__args__[0]  # type: ignore[union-attr]
    for m in AnyCommand.__origin__.__args__  # type: ignore[attr-defined]
))


def parse_command(raw: Any) -> Command:
    """Validate one decoded JSON object into a command, or raise `CommandError`."""
    if not isinstance(raw, dict):
        raise CommandError("", "a command must be a JSON object")
    kind = raw.get("type")
    if kind not in COMMAND_TYPES:
        raise CommandError("type", f"unknown command type {kind!r}; expected one of "
                                   + ", ".join(COMMAND_TYPES))
    try:
        command = _ADAPTER.validate_python(raw)
    except ValidationError as e:
        err = e.errors(include_url=False)[0]
        loc = [str(p) for p in err["loc"] if str(p) != kind]
        field = ".".join(loc)
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "missing":
            msg = "is required"
        elif err["type"] == "extra_forbidden":
            msg = "is not a field of " + kind
        raise CommandError(field, msg) from None
    if isinstance(command, SignContract):
        _check_sign(command)
    return command


def _check_sign(cmd: SignContract) -> None:
    if cmd.term_end < cmd.term_start:
        raise CommandError("term_end", "must not be before term_start")
    seen: set[str] = set()
    for i, line in enumerate(cmd.lines):
        if line.line_id in seen:
            raise CommandError(f"lines.{i}.line_id", f"duplicate line id {line.line_id!r}")
        seen.add(line.line_id)
    seen = set()
    for i, asset in enumerate(cmd.equipment):
        if asset.asset_id in seen:
            raise CommandError(f"equipment.{i}.asset_id",
                               f"duplicate asset id {asset.asset_id!r}")
        seen.add(asset.asset_id)
