#!/usr/bin/env bash
# Points kustomize overlays at released images (DUR-1): for every entry of an
# overlay's `images:` list whose image (newName, else name) is one of the
# given images, sets `newTag` to the release tag and `digest` to the pushed
# digest, so the cluster pulls exactly the bytes that were built (tag for
# people, digest for the node). Entries of other images are left alone.
#
# Usage: set-images.sh --tag TAG --image NAME@sha256:HEX [--image ...] OVERLAY_DIR...
#   e.g. set-images.sh --tag 1.2.3 \
#          --image ghcr.io/sigmawatch/sigmawatch-inference@sha256:... \
#          --image ghcr.io/sigmawatch/sigmawatch-operator@sha256:... \
#          manifests/overlays/staging manifests/overlays/production
#
# Edits the files as text, so their comments and layout stay as they are
# (the release pull request shows only the changed values). Fails, changing
# nothing at all, when an overlay has no entry for one of the
# images, or an entry has no newTag: a renamed image must not be skipped
# silently. The release workflow (.github/workflows/release.yml) calls it.
set -euo pipefail

usage() { sed -n '8,12p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

tag="" images=() overlays=()
while [ $# -gt 0 ]; do
  case $1 in
    --tag) [ $# -ge 2 ] || usage; tag=$2; shift 2 ;;
    --image) [ $# -ge 2 ] || usage; images+=("$2"); shift 2 ;;
    -h|--help) usage ;;
    -*) echo "set-images: unknown option $1" >&2; usage ;;
    *) overlays+=("$1"); shift ;;
  esac
done
if [ -z "$tag" ] || [ ${#images[@]} -eq 0 ] || [ ${#overlays[@]} -eq 0 ]; then usage; fi

# The characters a container image tag may hold (the OCI distribution spec).
if ! [[ $tag =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]]; then
  echo "set-images: '$tag' is not a valid image tag" >&2; exit 2
fi
for image in "${images[@]}"; do
  if ! [[ $image =~ ^[a-z0-9][a-z0-9._/:-]*@sha256:[0-9a-f]{64}$ ]]; then
    echo "set-images: '$image' is not NAME@sha256:<64 hex digits>" >&2; exit 2
  fi
done

# Every overlay is written beside itself first and all are replaced at the
# end: one bad overlay leaves every file unchanged.
written=()
discard() { for f in "${written[@]}"; do rm -f "$f.new"; done; }
for overlay in "${overlays[@]}"; do
  file="$overlay/kustomization.yaml"
  [ -f "$file" ] || { echo "set-images: $file does not exist" >&2; discard; exit 2; }
  written+=("$file")
  # An entry is buffered until the next one starts (or the list ends): its
  # newName may come after its newTag. Top-level keys start in column 0.
  if ! awk -v tag="$tag" -v images="${images[*]}" -v file="$file" '
    function value(line) {
      sub(/^[^:]*:[ \t]*/, "", line); sub(/[ \t]+#.*$/, "", line)
      gsub(/^["'\'']|["'\'']$/, "", line); return line
    }
    function flush(   i, target, line, indent) {
      if (count == 0) return
      target = (new_name != "") ? new_name : entry_name
      if (target in digest) {
        if (!has_tag) { printf "set-images: %s: the images entry %s has no newTag\n", file, entry_name > "/dev/stderr"; failed = 1 }
        matched[target] = 1
        for (i = 1; i <= count; i++) {
          line = buf[i]
          if (line ~ /^[ \t]+digest:/) continue
          if (line ~ /^[ \t]+newTag:/) {
            match(line, /^[ \t]+/); indent = substr(line, 1, RLENGTH)
            print indent "newTag: \"" tag "\""
            print indent "digest: " digest[target]
            continue
          }
          print line
        }
      } else for (i = 1; i <= count; i++) print buf[i]
      count = 0; entry_name = ""; new_name = ""; has_tag = 0
    }
    BEGIN {
      n = split(images, list, " ")
      for (i = 1; i <= n; i++) { at = index(list[i], "@"); digest[substr(list[i], 1, at - 1)] = substr(list[i], at + 1) }
    }
    in_images && /^[^ \t#-]/ { flush(); in_images = 0 }
    /^images:[ \t]*$/ { in_images = 1; print; next }
    in_images && /^[ \t]*- name:/ { flush(); entry_name = value($0); buf[++count] = $0; next }
    in_images && count > 0 {
      if ($0 ~ /^[ \t]+newName:/) new_name = value($0)
      if ($0 ~ /^[ \t]+newTag:/) has_tag = 1
      buf[++count] = $0; next
    }
    { print }
    END {
      flush()
      for (name in digest) if (!(name in matched)) {
        printf "set-images: %s has no images entry for %s\n", file, name > "/dev/stderr"; failed = 1
      }
      exit failed
    }
  ' "$file" > "$file.new"; then
    discard; exit 1
  fi
done
for file in "${written[@]}"; do
  mv "$file.new" "$file"
  echo "set-images: $file -> $tag" >&2
done
