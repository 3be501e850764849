"""``manage.py run_checks``: a table, stored runs, and exit status 1 when a fail-severity check failed."""

import io

import pytest
from django.core.management import CommandError, call_command

from quality.models import CheckRun
from tests import factories

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("run_checks", *args, stdout=out)
    return out.getvalue()


def test_it_prints_the_table_and_exits_0_when_everything_passes(known_output):
    factories.CheckFactory(output=known_output, name="rows", check_type="row_count")
    factories.CheckFactory(output=known_output, name="ids", check_type="missing_count", column="id", severity="warn")
    printed = run()
    assert printed.split("\n")[0].split() == [
        "product", "output", "check", "type", "status", "observed", "threshold", "duration",
    ]  # fmt: skip
    assert "cross-sell  known   rows   row_count" in printed
    assert "warn" in printed and "== 0" in printed
    assert "2 checks: 1 pass, 1 warn." in printed
    assert CheckRun.objects.count() == 2


def test_it_exits_1_when_a_fail_severity_check_fails(known_output):
    factories.CheckFactory(output=known_output, name="ids", check_type="missing_count", column="id")
    with pytest.raises(CommandError, match="1 fail-severity check"):
        run()
    assert CheckRun.objects.get().status == "fail"


def test_the_exit_status_is_1_from_the_shell(known_output, capsys):
    from django.core.management import execute_from_command_line

    factories.CheckFactory(output=known_output, name="ids", check_type="missing_count", column="id")
    with pytest.raises(SystemExit) as exited:
        execute_from_command_line(["manage.py", "run_checks"])
    assert exited.value.code == 1
    assert "FAIL" in capsys.readouterr().out


def test_it_runs_only_the_named_product_or_output(known_output, alice):
    other = factories.OutputFactory(product=factories.DataProductFactory(slug="other", owner=alice), name="x")
    factories.CheckFactory(output=other, name="elsewhere", check_type="row_count")
    factories.CheckFactory(output=known_output, name="rows", check_type="row_count")
    assert "elsewhere" not in run("--product", "cross-sell")
    printed = run("--output", str(known_output.pk))
    assert "rows" in printed and "elsewhere" not in printed


@pytest.mark.parametrize(
    "args, words",
    [(["--product", "nope"], "--product"), (["--output", "999999"], "--output"), (["--output", "abc"], "--output")],
)
def test_bad_input_is_a_command_error_naming_the_option(db, args, words):
    with pytest.raises(CommandError, match=words):
        run(*args)
