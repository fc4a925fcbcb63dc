.PHONY: up test ci lint fmt messages
up:
	python3 scripts/dev.py up
test:
	python3 scripts/dev.py test
ci:
	bash .ci/run
lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .
fmt:
	.venv/bin/ruff format . && .venv/bin/ruff check --fix .
messages:
	for app in */locale; do (cd $${app%/locale} && DEBUG=1 ../.venv/bin/django-admin makemessages -l en && ../.venv/bin/django-admin compilemessages); done
