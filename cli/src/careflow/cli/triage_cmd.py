"""``careflow triage``: tools for the people who write triage questionnaires."""

from __future__ import annotations

from pathlib import Path

import typer

triage_app = typer.Typer(help="Triage questionnaires.", no_args_is_help=True)


@triage_app.command("lint")
def lint(
    paths: list[Path] = typer.Argument(
        None, help="Questionnaire files or folders; default: the ones the service ships."
    ),
) -> None:
    """Check every questionnaire: each path ends in an outcome, nothing is unreachable,
    no cycle, every reference exists, every text exists in every language, and every
    Swedish text reads plainly (LIX at most 50, aim 40); so too the patient-facing messages
    of triage and identity (refusals and their guidance)."""
    # Imported here: the triage service is a workspace member the CLI does not depend on.
    from careflow.identity.domain.guidance import GUIDANCE_SAID
    from careflow.kit.i18n import check_catalog
    from careflow.kit.readability import LIX_AIM, lix
    from careflow.triage.lint import lint_directory, lint_files, swedish_texts
    from careflow.triage.messages import MESSAGES
    from careflow.triage.questionnaire import DEFAULT_DIRECTORY, questionnaire_files

    files: list[Path] = []
    for path in paths or [DEFAULT_DIRECTORY]:
        files.extend(questionnaire_files(path) if path.is_dir() else [path])
    sound, problems = lint_files(files) if files else lint_directory(DEFAULT_DIRECTORY)
    messages = check_catalog("triage messages", MESSAGES) + check_catalog(
        "identity guidance", GUIDANCE_SAID
    )
    for q in sound:
        texts = swedish_texts(q)
        judged = [lix(text) for _, text in texts if lix(text).judged]
        worst = max((m.value for m in judged), default=0.0)
        typer.echo(
            f"ok       {q.id} {q.version} ({q.hash[:12]}) {q.source}: {len(q.languages)} "
            f"languages, highest LIX {worst:.0f}"
        )
        for where, text in texts:
            measured = lix(text)
            if measured.judged and measured.value > LIX_AIM:
                typer.echo(f"note     {q.id}: {where}: LIX {measured.value:.0f} above the aim")
    for problem in problems:
        typer.echo(f"problem  {problem}", err=True)
    for message in messages:
        typer.echo(f"problem  {message}", err=True)
    typer.echo(
        f"messages: {len(MESSAGES) + len(GUIDANCE_SAID)} in every language"
        if not messages
        else f"messages: {len(messages)} problem(s)"
    )
    typer.echo(f"{len(sound)} sound, {len(problems)} problem(s)")
    if problems or messages or not files:
        raise typer.Exit(1)
