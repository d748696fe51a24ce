"""The pieces every step stands on: errors, context, config, run record, console, HTTP."""
