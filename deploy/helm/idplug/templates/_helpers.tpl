{{/* Names and labels. */}}
{{- define "idplug.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "idplug.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "idplug.labels" -}}
{{ include "idplug.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "idplug.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "idplug.secretName" -}}
{{- .Values.secrets.existingSecret | default (printf "%s-secrets" (include "idplug.fullname" .)) -}}
{{- end -}}

{{- define "idplug.hasSecrets" -}}
{{- if or .Values.secrets.existingSecret .Values.secrets.files }}true{{ end -}}
{{- end -}}

{{/*
The checks no value set may pass: SQLite is one process's file, so more than one
replica (or an autoscaler) needs PostgreSQL.
*/}}
{{- define "idplug.validate" -}}
{{- $b := .Values.store.backend -}}
{{- if not (has $b (list "sqlite" "postgres")) -}}
{{- fail (printf "store.backend: %q is not sqlite or postgres" $b) -}}
{{- end -}}
{{- if eq $b "sqlite" -}}
{{- if gt (int .Values.replicaCount) 1 -}}
{{- fail (printf "replicaCount: %d replicas cannot share SQLite; set store.backend: postgres and store.url" (int .Values.replicaCount)) -}}
{{- end -}}
{{- if .Values.autoscaling.enabled -}}
{{- fail "autoscaling.enabled: replicas cannot share SQLite; set store.backend: postgres and store.url" -}}
{{- end -}}
{{- if eq .Values.migrate.mode "job" -}}
{{- fail "migrate.mode: job needs store.backend: postgres (a Job cannot share the SQLite volume); use initContainer" -}}
{{- end -}}
{{- if .Values.store.url -}}
{{- fail "store.url: set only with store.backend: postgres (SQLite is at /data/idplug.db)" -}}
{{- end -}}
{{- else -}}
{{- if not .Values.store.url -}}
{{- fail "store.url: required with store.backend: postgres (a postgres:// URL, or ${file:/etc/idplug/secrets/NAME})" -}}
{{- end -}}
{{- end -}}
{{- if not (has .Values.migrate.mode (list "initContainer" "job")) -}}
{{- fail (printf "migrate.mode: %q is not initContainer or job" .Values.migrate.mode) -}}
{{- end -}}
{{- range $k := list "listen" "admin_listen" "plugin_dir" "store" -}}
{{- if hasKey $.Values.config $k -}}
{{- fail (printf "config.%s: set by the chart (see values.yaml: store, ports, extraVolumes)" $k) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* idplug.yaml: the operator's config and what the chart owns. */}}
{{- define "idplug.config" -}}
{{- $store := dict "timeout" .Values.store.timeout -}}
{{- if eq .Values.store.backend "sqlite" -}}
{{- $_ := set $store "url" "sqlite:/data/idplug.db" -}}
{{- else -}}
{{- $_ := set $store "url" .Values.store.url -}}
{{- end -}}
{{- $owned := dict "listen" (printf "0.0.0.0:%d" (int .Values.ports.http)) "admin_listen" (printf "0.0.0.0:%d" (int .Values.ports.admin)) "plugin_dir" "/plugins" "store" $store -}}
{{- toYaml (merge $owned (deepCopy .Values.config)) -}}
{{- end -}}

{{/* The pod's volumes and the idplug container's mounts, shared with the migrate Job. */}}
{{- define "idplug.volumeMounts" -}}
- name: config
  mountPath: /etc/idplug/idplug.yaml
  subPath: idplug.yaml
  readOnly: true
{{- if include "idplug.hasSecrets" . }}
- name: secrets
  mountPath: /etc/idplug/secrets
  readOnly: true
{{- end }}
- name: data
  mountPath: /data
- name: tmp
  mountPath: /tmp
{{- with .Values.extraVolumeMounts }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "idplug.volumes" -}}
- name: config
  configMap:
    name: {{ include "idplug.fullname" . }}
{{- if include "idplug.hasSecrets" . }}
- name: secrets
  secret:
    secretName: {{ include "idplug.secretName" . }}
    defaultMode: 0440
{{- end }}
{{- if and (eq .Values.store.backend "sqlite") .Values.persistence.enabled }}
- name: data
  persistentVolumeClaim:
    claimName: {{ .Values.persistence.existingClaim | default (printf "%s-data" (include "idplug.fullname" .)) }}
{{- else }}
- name: data
  emptyDir: {}
{{- end }}
- name: tmp
  emptyDir:
    medium: Memory
    sizeLimit: 16Mi
{{- with .Values.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end -}}
