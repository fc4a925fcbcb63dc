"""axe-core in the browser tests: `assert_accessible(page)` runs the axe-core engine that
axe-playwright-python ships against the page as it stands and fails with every serious or
critical finding listed (rule, impact, the offending elements and axe's help text).

Usage in a Playwright test::

    from tests.a11y import assert_accessible
    page.goto(url)
    assert_accessible(page, where="phone report form")
"""

from __future__ import annotations

from axe_playwright_python.sync_playwright import Axe

BLOCKING = ("serious", "critical")

_axe = Axe()


def findings(page, *, impacts=BLOCKING, context=None) -> list[dict]:
    """axe-core's violations on the page with one of `impacts`, each a dict of rule id, impact,
    help text and the CSS targets of the failing nodes."""
    results = _axe.run(page, context=context)
    out = []
    for violation in results.response.get("violations", []):
        if violation.get("impact") not in impacts:
            continue
        out.append(
            {
                "rule": violation["id"],
                "impact": violation["impact"],
                "help": violation["help"],
                "nodes": [
                    {"target": node.get("target"), "summary": node.get("failureSummary", "")}
                    for node in violation.get("nodes", [])
                ],
            }
        )
    return out


def assert_accessible(page, *, where: str = "", impacts=BLOCKING, context=None) -> None:
    found = findings(page, impacts=impacts, context=context)
    if found:
        place = where or page.url
        lines = [f"axe-core: {len(found)} {'/'.join(impacts)} rule(s) failed on {place}"]
        for item in found:
            lines.append(f"- {item['rule']} ({item['impact']}): {item['help']}")
            for node in item["nodes"][:8]:
                lines.append(f"    {node['target']}: {node['summary'].splitlines()[-1:]}")
        raise AssertionError("\n".join(lines))
