"""`flask --app vendor_portal gate ...`"""

import time

import click

from vendor_portal.audit.services import Actor, set_actor
from vendor_portal.contracts.models import Contract
from vendor_portal.extensions import db
from vendor_portal.gate import bp, services


def _contract(contract_id: int) -> Contract:
    contract = db.session.get(Contract, contract_id)
    if contract is None:
        raise click.ClickException(f"There is no contract with id {contract_id}.")
    return contract


def _print(evaluation) -> None:
    click.echo(f"Decision: {evaluation.decision}")
    for check in evaluation.checks:
        click.echo(f"  [{check['status']:>4}] {check['code']}: {check['message']}")


@bp.cli.command("evaluate")
@click.argument("contract_id", type=int)
def evaluate(contract_id: int) -> None:
    """Evaluate a contract's gate now and keep the result."""
    set_actor(Actor(None, "cli:gate evaluate"))
    evaluation = services.evaluate_contract(db.session, _contract(contract_id), None, reason="cli")
    db.session.commit()
    _print(evaluation)


@bp.cli.command("set-status")
@click.argument("contract_id", type=int)
@click.argument("status")
def set_status(contract_id: int, status: str) -> None:
    """Move a contract to STATUS; approval and activation need a passing gate."""
    set_actor(Actor(None, "cli:gate set-status"))
    contract = _contract(contract_id)
    try:
        services.change_status(db.session, contract, status, None)
    except services.GateBlocked as exc:
        db.session.commit()  # keep the evaluation that refused it
        _print(exc.evaluation)
        raise click.ClickException("Refused: the procurement gate does not pass.") from exc
    except (services.GateError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"Contract {contract.id} is now {contract.status}.")


@bp.cli.command("deliver-webhooks")
@click.option("--loop", is_flag=True, help="Keep sending as deliveries fall due.")
@click.option(
    "--interval", default=15.0, show_default=True, help="Seconds between rounds with --loop."
)
@click.option("--max-seconds", type=float, help="Stop looping after this long.")
def deliver_webhooks(loop: bool, interval: float, max_seconds: float | None) -> None:
    """Send due webhook deliveries (retries with back-off)."""
    started = time.monotonic()
    while True:
        counts = services.deliver_due(db.session)
        db.session.commit()
        if any(counts.values()) or not loop:
            click.echo(", ".join(f"{n} {k}" for k, n in counts.items()))
        if not loop or (max_seconds is not None and time.monotonic() - started >= max_seconds):
            return
        time.sleep(interval)
