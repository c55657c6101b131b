#!/bin/bash
# Sourced by tektoncd/catalog's test runner before the Task is applied: the Task's last step
# references the chainlet-attest StepAction, so install it into the test namespace.
add_stepaction chainlet-attest latest
