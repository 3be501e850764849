"""``manage.py export_specs`` and ``import_specs``: files out, files in, exit status 2 with every error."""

import io

import pytest
import yaml
from django.core.management import CommandError, call_command

from products.models import DataProduct, Goal
from products.specs.document import dump

from .conftest import counts, spec_of

pytestmark = pytest.mark.django_db


def run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def fails(*args) -> tuple[int, str]:
    """Run a command that must fail: its exit status and what it printed on stderr."""
    err = io.StringIO()
    with pytest.raises(CommandError) as caught:
        call_command(*args, stdout=io.StringIO(), stderr=err)
    return caught.value.returncode, err.getvalue() + str(caught.value)


@pytest.fixture
def exported(product, draft, tmp_path):
    folder = tmp_path / "specs"
    out, _ = run("export_specs", str(folder))
    assert out == f"Exported 2 product spec(s) to {folder}.\n"
    return folder


def test_it_exports_one_file_per_product(exported, product):
    assert sorted(path.name for path in exported.iterdir()) == ["churn.yaml", "cross-sell.yaml"]
    assert yaml.safe_load((exported / "cross-sell.yaml").read_text())["metadata"]["slug"] == "cross-sell"


def test_it_exports_one_product_or_says_which_is_unknown(product, tmp_path):
    run("export_specs", str(tmp_path / "out"), "--product", "cross-sell")
    assert [path.name for path in (tmp_path / "out").iterdir()] == ["cross-sell.yaml"]
    with pytest.raises(CommandError, match="No product with slug nope"):
        run("export_specs", str(tmp_path / "out"), "--product", "nope")


def test_reimporting_an_export_changes_nothing(exported, alice):
    before = counts()
    out, _ = run("import_specs", str(exported), "--as", "alice")
    assert out == "churn: unchanged\ncross-sell: unchanged\n"
    assert counts() == before


def test_a_dry_run_prints_the_change_and_writes_nothing(exported, alice):
    path = exported / "cross-sell.yaml"
    data = yaml.safe_load(path.read_text())
    data["spec"]["goals"] = [{"title": "Grow revenue", "target": 15}]
    path.write_text(dump(data))
    before = counts()
    out, _ = run("import_specs", str(path), "--as", "alice", "--dry-run")
    assert out == "cross-sell: 1 change(s)\n  + goal 'Grow revenue'\nDry run: nothing was written.\n"
    assert counts() == before
    run("import_specs", str(path), "--as", "alice")
    assert Goal.objects.get().target_value == 15


BAD = {
    "syntax": ("metadata:\n  slug: [cross-sell\n", "bad.yaml:3:1: (document): while parsing a flow sequence"),
    "schema": (
        "apiVersion: lodestar/v1\nkind: DataProduct\nmetadata: {slug: x, name: X, domain: d, owner: alice}\n"
        "spec:\n  goals:\n  - {title: A, target: lots}\n",
        "bad.yaml:6:24: spec.goals[0].target: expected a number",
    ),
    "api version": ("apiVersion: v2\nkind: DataProduct\n", "bad.yaml:1:13: apiVersion: unknown apiVersion 'v2'"),
    "duplicate key": ("a: 1\na: 2\n", "bad.yaml:2:1: a: duplicate key 'a' (first given on line 1)"),
    "billion laughs": ("a: &a [x, x]\nb: [*a, *a]\n", "bad.yaml:1:4: (document): anchors (&name) are not allowed"),
    "deep nesting": ("a: " + "[" * 50, "bad.yaml:1:35: (document): nested deeper than 32 levels"),
    "10 MB": ("#" * (10 * 1024 * 1024 + 1), "bad.yaml:1:1: (document): larger than 10 MB"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_files_exit_2_with_file_line_column_and_write_nothing(case, exported, alice):
    text, expected = BAD[case]
    (exported / "bad.yaml").write_text(text)
    before = counts()
    status, err = fails("import_specs", str(exported), "--as", "alice")
    assert status == 2
    assert f"{exported}/{expected}" in err
    assert "nothing was written" in err
    assert counts() == before


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"domain": "nowhere"}, "cross-sell.yaml:6:11: metadata.domain: no domain 'nowhere'"),
        ({"owner": "ghost"}, "cross-sell.yaml:7:10: metadata.owner: no user 'ghost'"),
        ({"slug": "brand-new"}, "cross-sell.yaml:4:9: metadata.slug: you may not create products"),
    ],
)
def test_bad_references_and_permissions_exit_2(change, expected, exported, product, bob):
    data = spec_of(product)
    data["metadata"] |= change
    (exported / "cross-sell.yaml").write_text(dump(data))
    before = counts()
    status, err = fails("import_specs", str(exported / "cross-sell.yaml"), "--as", "bob")
    assert status == 2
    assert f"{exported}/{expected}" in err
    assert counts() == before


def test_unknown_upstream_output_exits_2(exported, product, alice):
    data = spec_of(product)
    data["spec"]["inputs"] = [{"output": "churn/missing"}]
    (exported / "cross-sell.yaml").write_text(dump(data))
    status, err = fails("import_specs", str(exported), "--as", "alice")
    assert status == 2
    assert "spec.inputs[0].output: no output 'churn/missing' that you can see" in err


def test_an_outsider_cannot_import_and_nothing_is_written(exported, charlie):
    before = counts()
    status, err = fails("import_specs", str(exported), "--as", "charlie")
    assert status == 2
    assert "churn.yaml:4:9: metadata.slug: you may not change the product 'churn'" in err  # a draft, unseen
    assert "cross-sell" not in err  # published and unchanged: nothing to write, nothing to be allowed
    assert counts() == before


def test_a_second_file_that_fails_leaves_the_first_unwritten(exported, product, alice):
    data = spec_of(product)
    data["spec"]["goals"] = [{"title": "Written only if all is well"}]
    (exported / "cross-sell.yaml").write_text(dump(data))
    (exported / "zz.yaml").write_text(dump(data | {"metadata": data["metadata"] | {"slug": "zz", "domain": "x"}}))
    status, err = fails("import_specs", str(exported), "--as", "alice")
    assert status == 2 and "zz.yaml:6:11: metadata.domain: no domain 'x'" in err
    assert not Goal.objects.exists()


def test_the_user_and_the_paths_must_exist(exported, alice):
    assert fails("import_specs", str(exported), "--as", "nobody")[0] == 2
    status, err = fails("import_specs", str(exported / "missing.yaml"), "--as", "alice")
    assert status == 2 and "missing.yaml:1:1: (document): no such file or folder" in err
    with pytest.raises(CommandError, match="--as"):
        call_command("import_specs", str(exported))


def test_export_specs_writes_the_schema_file(tmp_path):
    out, _ = run("export_specs", "--schema", str(tmp_path / "schema.json"))
    assert (tmp_path / "schema.json").read_text().startswith('{\n  "$schema"')
    assert DataProduct.objects.count() == 0 and "Wrote the spec schema" in out


def test_many_files_are_read_by_worker_processes_with_the_same_result(exported, product, alice, monkeypatch):
    from products.management.commands import import_specs

    data = spec_of(product)
    for n in range(6):
        copy = data | {"metadata": data["metadata"] | {"slug": f"copy-{n}", "name": f"Copy {n}"}}
        (exported / f"copy-{n}.yaml").write_text(dump(copy))
    (exported / "copy-9.yaml").write_text("metadata: [unclosed\n")
    (exported / "copy-8.yaml").write_text(dump(data | {"metadata": data["metadata"] | {"slug": "BAD SLUG"}}))
    monkeypatch.setattr(import_specs, "PARALLEL_FROM", 2)
    status, err = fails("import_specs", str(exported), "--as", "alice")
    assert status == 2
    lines = [line for line in err.splitlines() if ".yaml:" in line]
    assert [line.split(":")[0].rsplit("/", 1)[1] for line in lines] == ["copy-8.yaml", "copy-9.yaml"]
    assert not DataProduct.objects.filter(slug__startswith="copy-").exists()
    (exported / "copy-9.yaml").unlink()
    (exported / "copy-8.yaml").unlink()
    out, _ = run("import_specs", str(exported), "--as", "alice")
    heads = [line for line in out.splitlines() if not line.startswith(" ")]
    assert heads == ["churn: unchanged", *[f"copy-{n}: 1 change(s)" for n in range(6)], "cross-sell: unchanged"]
    assert set(DataProduct.objects.filter(slug__startswith="copy-").values_list("slug", flat=True)) == {
        f"copy-{n}" for n in range(6)
    }
