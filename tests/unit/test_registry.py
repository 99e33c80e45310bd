"""Services register themselves (entry points); the runtime finds them and their settings."""

from __future__ import annotations

import json

import msgspec
import pytest

from contracts.intake import ReferralRoutedReply
from polku import registry
from polku.client import Refusal, decode_reply
from polku.settings import Settings, SettingsError
from services.casefile.settings import CasefileSettings
from services.intake.settings import DEFAULT_TRIAGE_GRID, IntakeSettings


def test_the_installed_services_are_found_in_their_start_order() -> None:
    assert registry.names() == ("intake", "casefile", "followup", "reporting")
    definitions = registry.services()
    assert [d.name for d in definitions.values()] == ["intake", "casefile", "followup", "reporting"]
    assert definitions["followup"].rebuild and definitions["followup"].republish_source
    assert definitions["casefile"].rebuild and definitions["reporting"].rebuild
    assert definitions["intake"].rebuild is None
    assert definitions["intake"].republish_source and definitions["casefile"].republish_source
    assert definitions["reporting"].republish_source  # its indicator snapshots


def test_an_unknown_service_is_named_with_what_is_installed() -> None:
    with pytest.raises(registry.RegistryError, match=r"no service named 'audit' is installed \(installed: intake, casefile, followup, reporting\)"):
        registry.service("audit")


def test_the_demo_is_found_through_its_entry_point() -> None:
    assert callable(registry.demo())


def test_each_service_reads_its_own_settings_with_the_runtime_s_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("POLKU_TRIAGE_GRID", "POLKU_DEFAULT_TEAM", "POLKU_REPEAT_REFERRALS_FLAG", "POLKU_ACTIVATION_MIN_OPTIONS",
                 "POLKU_WORK_ACTIVITY_MIN_HOURS", "POLKU_CHECK_IN_AFTER_DAYS"):
        monkeypatch.delenv(name, raising=False)
    intake = IntakeSettings.from_env()
    assert (intake.default_team, intake.repeat_referrals_flag) == ("team-north", 3)
    assert [q.code for q in intake.triage_grid.quadrants] == ["A", "B", "C", "D"]
    policy = CasefileSettings.from_env().policy
    assert (policy.activation_min_options, policy.work_activity_min_hours, policy.check_in_after_days) == (2, 4.0, 30)
    assert not hasattr(Settings, "triage_grid") and "activation_min_options" not in Settings.__dataclass_fields__

    monkeypatch.setenv("POLKU_REPEAT_REFERRALS_FLAG", "2")
    monkeypatch.setenv("POLKU_ACTIVATION_MIN_OPTIONS", "3")
    monkeypatch.setenv("POLKU_WORK_ACTIVITY_MIN_HOURS", "3.5")
    assert IntakeSettings.from_env().repeat_referrals_flag == 2
    assert CasefileSettings.from_env().policy.activation_min_options == 3
    assert CasefileSettings.from_env().policy.work_activity_min_hours == 3.5


@pytest.mark.parametrize(
    ("reader", "name", "value", "message"),
    [
        (IntakeSettings, "POLKU_TRIAGE_GRID", "[]", "POLKU_TRIAGE_GRID is not a grid"),
        (IntakeSettings, "POLKU_REPEAT_REFERRALS_FLAG", "three", "POLKU_REPEAT_REFERRALS_FLAG must be an integer"),
        (CasefileSettings, "POLKU_CHECK_IN_AFTER_DAYS", "soon", "POLKU_CHECK_IN_AFTER_DAYS must be an integer"),
        (CasefileSettings, "POLKU_WORK_ACTIVITY_MIN_HOURS", "four", "POLKU_WORK_ACTIVITY_MIN_HOURS must be a number"),
        (CasefileSettings, "POLKU_NO_CHECK_IN_REASONS", "died,emigrated", "POLKU_NO_CHECK_IN_REASONS: emigrated is not an end reason"),
    ],
)
def test_a_service_setting_it_cannot_use_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, reader: type, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=message):
        reader.from_env()


def test_only_a_client_who_died_skips_the_check_in_unless_configured_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POLKU_NO_CHECK_IN_REASONS", raising=False)
    assert CasefileSettings.from_env().policy.no_check_in_reasons == ("died",)
    monkeypatch.setenv("POLKU_NO_CHECK_IN_REASONS", " died, moved ")
    assert CasefileSettings.from_env().policy.no_check_in_reasons == ("died", "moved")
    monkeypatch.setenv("POLKU_NO_CHECK_IN_REASONS", "none")
    assert CasefileSettings.from_env().policy.no_check_in_reasons == ()


def test_a_grid_whose_special_support_quadrant_names_a_counsellor_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    grid = json.loads(json.dumps(DEFAULT_TRIAGE_GRID))
    grid["quadrants"][2]["role"] = "social_counsellor"
    monkeypatch.setenv("POLKU_TRIAGE_GRID", json.dumps(grid))
    with pytest.raises(SettingsError, match="quadrant C suspects special support, so its role is social_worker"):
        IntakeSettings.from_env()


def test_the_client_raises_a_refusal_with_its_code_and_field_and_decodes_a_typed_reply() -> None:
    refused = b'{"ok":false,"error":{"code":"unknown_value","message":"`channel` is not one of the allowed values","field":"channel"}}'
    for reply_type in (None, ReferralRoutedReply):
        with pytest.raises(Refusal) as caught:
            decode_reply("polku.cmd.intake.receive_referral", refused, reply_type)
        assert (caught.value.code, caught.value.field) == ("unknown_value", "channel")
        assert caught.value.reply == msgspec.json.decode(refused)
    routed = decode_reply("polku.cmd.intake.route_referral", msgspec.json.encode({
        "ok": True, "referral_id": "6f1c2f4e-0000-4000-8000-000000000001", "worker_id": "sw-001", "team": "team-north",
        "required_role": "social_worker", "special_support_suspected": True,
    }), ReferralRoutedReply)
    assert isinstance(routed, ReferralRoutedReply) and routed.required_role == "social_worker"
    assert decode_reply("polku.qry.casefile.summary", b'{"open":1,"ended":0}') == {"open": 1, "ended": 0}
