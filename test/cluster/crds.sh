# crds.sh: sourced by the tier's CRD scripts (argocd-crds.sh, prometheus-crds.sh); needs their `die`.

# apply_crds FILE...: server-side apply of each file to $KUBECONFIG's cluster, then waits until
# every CRD they hold is Established. (Server-side: the Application CRD is larger than the 262144
# bytes client-side apply's last-applied annotation may hold.)
apply_crds() {
  command -v kubectl >/dev/null || die "kubectl is not on PATH"
  [[ -n "${KUBECONFIG:-}" ]] || die "KUBECONFIG is not set (run: eval \"\$(scripts/cluster-up)\")"
  local f out names=()
  for f in "$@"; do
    out="$(kubectl apply --server-side --force-conflicts --field-manager=paddock-tests -o name -f "$f")" || die "kubectl apply -f $f failed"
    names+=($out)
  done
  # A CRD created a moment ago has no status.conditions yet, and `kubectl wait` fails on that at
  # once instead of waiting: ask again until it answers.
  local attempt
  for attempt in $(seq 1 30); do
    if out="$(kubectl wait --for=condition=Established --timeout=60s "${names[@]}" 2>&1)"; then
      printf '%s\n' "$out" >&2
      return 0
    fi
    [[ "$attempt" -lt 30 ]] || die "not Established: ${names[*]}: $out"
    sleep 1
  done
}

# crds_done ARG FILE...: with ARG --apply, install FILEs (apply_crds); then print their paths, one
# per line. Any other ARG is an error. The tail of every CRD script.
crds_done() {
  local arg="${1:-}"
  shift
  if [[ "$arg" == "--apply" ]]; then
    apply_crds "$@"
  elif [[ -n "$arg" ]]; then
    die "unknown argument: $arg (only --apply)"
  fi
  printf '%s\n' "$@"
}
