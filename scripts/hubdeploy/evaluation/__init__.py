"""The evaluation of a model change: the env's deployed model (base) against the PR's (head), both served by their
own model/code/inference.py through the inference toolkit on CPU, on the labelled sentences in
evaluation/sentences.jsonl; numbers, label flips and latency, the gates of model-gates.toml, evaluation.json and
the comment's "Evaluation" section. `hubdeploy evaluate` and `hubdeploy preview` run it (`pipeline`)."""
