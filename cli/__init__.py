"""The ``labflow`` command (:mod:`cli.main`): starts Dagster, the API and the app, and runs one-off tasks.

It sits outside the core (:mod:`labflow`) because it starts every framework; each subcommand imports what
it needs when it runs, so ``labflow keys`` does not load Dagster or Gradio.
"""
