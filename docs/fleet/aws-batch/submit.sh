#!/bin/sh
# submit.sh SNAPSHOT_ID SHARDS: scans an EBS snapshot in SHARDS shards (an array job), then
# merges their reports (a job that depends on the array). See docs/fleet.md.
set -eu
snapshot=$1
shards=$2
queue=${QUEUE:-snapsift}
env="environment=[{name=SNAPSHOT_ID,value=$snapshot},{name=SHARDS,value=$shards}]"
if [ "$shards" -gt 1 ]; then
  array="--array-properties size=$shards"
else
  array=
fi
# shellcheck disable=SC2086 # $array is two words or none
scan=$(aws batch submit-job --job-name "snapsift-scan-$snapshot" --job-queue "$queue" \
  --job-definition snapsift-scan $array --container-overrides "$env" \
  --query jobId --output text)
aws batch submit-job --job-name "snapsift-merge-$snapshot" --job-queue "$queue" \
  --job-definition snapsift-merge --depends-on "jobId=$scan" \
  --container-overrides "$env" --query jobId --output text
