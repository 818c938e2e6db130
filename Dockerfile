# The training image for Vertex AI custom jobs (docs/operations.md): the project installed
# with its pinned stack, `python -m trainer.task` as the entry point; the job's args are its flags.
#   docker build -t REGION-docker.pkg.dev/PROJECT/REPO/idx-tfrecords:0.1.0 .
#   docker push REGION-docker.pkg.dev/PROJECT/REPO/idx-tfrecords:0.1.0
# tests/test_operations.py checks that it installs what setup.py declares (no Docker engine there).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY setup.py constraints.txt README.md ./
COPY pipeline/ pipeline/
COPY trainer/ trainer/
COPY estimator/ estimator/
COPY common/ common/
COPY schemas/ schemas/
RUN pip install --no-cache-dir -c constraints.txt . && rm -rf /root/.cache

ENTRYPOINT ["python", "-m", "trainer.task"]
