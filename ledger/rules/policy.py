"""Policy: the values DOMAIN.md leaves to the operator, in one typed object.

Every contract records the policy it was signed under (on `ContractSigned`), and
every charge records the rule and clause it applied, so a later change of
defaults never changes the meaning of history.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Policy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    confirmation_working_days: int = Field(3, ge=1, le=30)
    """R2 (Art.4.3): working days Party A has to sign the confirmation (T not counted)."""

    deemed_start_calendar_days: int = Field(5, ge=0, le=60)
    """R2 (Art.4.3): billing starts T + this many calendar days when not confirmed in time."""

    arrears_suspension_month: int = Field(3, ge=2, le=12)
    """R6 (Art.4.4): suspend on the 1st of this month of an unbroken arrears period."""

    cancellation_after_months: int = Field(3, ge=1, le=24)
    """R8 (Art.4.4): a suspension lasting this many months cancels the contract."""

    renewal_months: int = Field(12, ge=1, le=120)
    """R9 (Art.7.3): length of an automatic renewal."""

    cross_border_renewal_months: int = Field(1, ge=1, le=120)
    """R9 (Art.7.3): renewal length of a cross-border contract."""

    notice_window_days: int = Field(30, ge=1, le=365)
    """R9 policy: a notice within this many days before term_end prevents renewal; an
    earlier notice is honoured too but flagged as outside the window."""

    sms_quota_per_term: bool = True
    """Policy: the SMS quota covers one term; a renewal starts a new quota."""

    acceptance_after_months: int = Field(1, ge=0, le=12)
    """R14 (Art.4.5): acceptance follows this many months of normal running."""

    payment_terms: str = "as agreed (Art.4.3: 以约定为准)"
    """R14: payment timing is "as agreed"; recorded, not enforced."""

    # Fixed choices, documented here so that explanations can cite them:
    # - postpaid bills are due on the last day of the month they are issued in (R4);
    # - a payment settles the oldest open bill first, surplus stays as credit (R6);
    # - a bill with no charge items is not issued (R4);
    # - no rent accrues on suspended days, partial months by day (R7).


DEFAULT_POLICY = Policy()
