{{/* Names and labels. */}}
{{- define "idplug.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/*
fullname with a suffix, the fullname cut so that the whole fits a DNS label (63):
(list $ "-metrics").
*/}}
{{- define "idplug.fullnameWith" -}}
{{- $suffix := index . 1 -}}
{{- $base := include "idplug.fullname" (index . 0) | trunc (int (sub 63 (len $suffix))) | trimSuffix "-" -}}
{{- printf "%s%s" $base $suffix -}}
{{- end -}}

{{/* Every scalar the templates write is quoted (or a number checked as one). */}}
{{- define "idplug.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name | quote }}
app.kubernetes.io/instance: {{ .Release.Name | quote }}
{{- end -}}

{{/*
The app.kubernetes.io/version label: the image tag (or the chart's appVersion),
never a digest, cut to what a label value allows.
*/}}
{{- define "idplug.version" -}}
{{- $v := .Values.image.tag | default .Chart.AppVersion | toString | splitList "@" | first -}}
{{- regexReplaceAll "[^-A-Za-z0-9_.]" $v "" | trunc 63 | trimAll "-_." -}}
{{- end -}}

{{- define "idplug.labels" -}}
{{ include "idplug.selectorLabels" . }}
app.kubernetes.io/version: {{ include "idplug.version" . | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | quote }}
{{- end -}}

{{/* repository@digest when image.digest is set, repository:tag otherwise. */}}
{{- define "idplug.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{- define "idplug.secretName" -}}
{{- .Values.secrets.existingSecret | default (printf "%s-secrets" (include "idplug.fullname" .)) -}}
{{- end -}}

{{- define "idplug.hasSecrets" -}}
{{- if or .Values.secrets.existingSecret .Values.secrets.files }}true{{ end -}}
{{- end -}}

{{/* The minimum number of replicas: replicaCount, or the autoscaler's minimum. */}}
{{- define "idplug.minReplicas" -}}
{{- if .Values.autoscaling.enabled -}}
{{- include "idplug.int" (list "autoscaling.minReplicas" .Values.autoscaling.minReplicas 1) -}}
{{- else -}}
{{- include "idplug.int" (list "replicaCount" .Values.replicaCount 0) -}}
{{- end -}}
{{- end -}}

{{/*
A whole number of the values, as digits: (list name value min). A number it must
be (float64 from a values file, int64 from --set), not a string: sprig's int made
0 of one it cannot read ("2 "), which passed every check, and a string written
unquoted could add lines of its own to the manifest.
*/}}
{{- define "idplug.int" -}}
{{- $name := index . 0 -}}
{{- $v := index . 1 -}}
{{- $min := index . 2 -}}
{{- if or (not (has (kindOf $v) (list "float64" "int" "int64"))) (lt (float64 $v) (float64 $min)) (gt (float64 $v) 2147483647.0) (ne (float64 (int64 $v)) (float64 $v)) -}}
{{- $hint := ternary ", written unquoted" "" (kindIs "string" $v) -}}
{{- fail (printf "%s: %s is not a whole number (%d or more%s)" $name (include "idplug.shown" $v) (int $min) $hint) -}}
{{- end -}}
{{- int64 $v -}}
{{- end -}}

{{/* A port of the values, as digits: (list name value). */}}
{{- define "idplug.port" -}}
{{- $name := index . 0 -}}
{{- $port := index . 1 -}}
{{- if or (not (has (kindOf $port) (list "float64" "int" "int64"))) (lt (float64 $port) 1.0) (gt (float64 $port) 65535.0) (ne (float64 (int64 $port)) (float64 $port)) -}}
{{- fail (printf "%s: %s is not a port (1 to 65535)" $name (include "idplug.shown" $port)) -}}
{{- end -}}
{{- int64 $port -}}
{{- end -}}

{{/*
A PodDisruptionBudget's minAvailable or maxUnavailable: a whole number, as
digits, or a percentage "N%" (0% to 100%), quoted: (list name value).
*/}}
{{- define "idplug.intOrPercent" -}}
{{- $name := index . 0 -}}
{{- $v := index . 1 -}}
{{- if kindIs "string" $v -}}
{{- if or (not (regexMatch "^[0-9]{1,3}%$" $v)) (gt (atoi (trimSuffix "%" $v)) 100) -}}
{{- fail (printf "%s: %q is not a whole number or a percentage (0%% to 100%%, as \"50%%\")" $name $v) -}}
{{- end -}}
{{- quote $v -}}
{{- else -}}
{{- include "idplug.int" (list $name $v 0) -}}
{{- end -}}
{{- end -}}

{{/* A value as a message shows it: a string quoted. */}}
{{- define "idplug.shown" -}}
{{- if kindIs "string" . -}}{{ printf "%q" . }}{{- else -}}{{ printf "%v" . }}{{- end -}}
{{- end -}}

{{/*
The preStop sleep's seconds, or "" when there is none: preStopSleepSeconds 0, or
a cluster older than 1.30 (the sleep action is beta, on by default, from 1.30;
the image has no shell for an exec hook).
*/}}
{{- define "idplug.preStopSleep" -}}
{{- $sleep := int (include "idplug.int" (list "preStopSleepSeconds" .Values.preStopSleepSeconds 0)) -}}
{{- if and (gt $sleep 0) (semverCompare ">=1.30.0-0" .Capabilities.KubeVersion.Version) -}}
{{- $sleep -}}
{{- end -}}
{{- end -}}

{{/*
The numbers the templates write and the checks read, each a number: see
idplug.int. The grace period covers the preStop sleep and idplug's drain (up to
30 s after SIGTERM: host/cmd/idplug's shutdownGrace).
*/}}
{{- define "idplug.validateNumbers" -}}
{{- $_ := include "idplug.int" (list "replicaCount" .Values.replicaCount 0) -}}
{{- $grace := int (include "idplug.int" (list "terminationGracePeriodSeconds" .Values.terminationGracePeriodSeconds 0)) -}}
{{- $sleep := int (include "idplug.preStopSleep" . | default "0") -}}
{{- if lt $grace (add $sleep 30) -}}
{{- if $sleep -}}
{{- fail (printf "terminationGracePeriodSeconds: %d leaves idplug %d s to drain after the preStop sleep of %d s (preStopSleepSeconds); it takes up to 30 s: set it to %d or more (the sleep, the drain and 10 s to stop its plugins), or lower preStopSleepSeconds" $grace (max 0 (sub $grace $sleep)) $sleep (add $sleep 40)) -}}
{{- else -}}
{{- fail (printf "terminationGracePeriodSeconds: %d leaves idplug %d s to drain; it takes up to 30 s: set it to 40 or more (the drain and 10 s to stop its plugins)" $grace $grace) -}}
{{- end -}}
{{- end -}}
{{- $_ = include "idplug.port" (list "service.port" .Values.service.port) -}}
{{- $_ = include "idplug.port" (list "ports.http" .Values.ports.http) -}}
{{- $_ = include "idplug.port" (list "ports.admin" .Values.ports.admin) -}}
{{- with .Values.autoscaling -}}
{{- if .enabled -}}
{{- $lo := int (include "idplug.int" (list "autoscaling.minReplicas" .minReplicas 1)) -}}
{{- $hi := int (include "idplug.int" (list "autoscaling.maxReplicas" .maxReplicas 1)) -}}
{{- if lt $hi $lo -}}
{{- fail (printf "autoscaling.maxReplicas: %d is below autoscaling.minReplicas (%d)" $hi $lo) -}}
{{- end -}}
{{- $_ = include "idplug.int" (list "autoscaling.targetCPUUtilizationPercentage" .targetCPUUtilizationPercentage 1) -}}
{{- end -}}
{{- end -}}
{{- if and (eq .Values.migrate.mode "job") (not (kindIs "invalid" .Values.migrate.jobTTLSecondsAfterFinished)) -}}
{{- $_ = include "idplug.int" (list "migrate.jobTTLSecondsAfterFinished" .Values.migrate.jobTTLSecondsAfterFinished 0) -}}
{{- end -}}
{{- end -}}

{{/*
The checks no value set may pass: SQLite is one process's file, so more than one
replica (or an autoscaler) needs PostgreSQL; and the settings that would render
objects that cannot work (a crash loop, a PDB that blocks every drain, an HPA
with nothing to measure, a Secret the API server refuses).
*/}}
{{- define "idplug.validate" -}}
{{- include "idplug.validateNumbers" . -}}
{{- $b := .Values.store.backend -}}
{{- if not (has $b (list "sqlite" "postgres")) -}}
{{- fail (printf "store.backend: %q is not sqlite or postgres" $b) -}}
{{- end -}}
{{- if eq $b "sqlite" -}}
{{- if gt (int64 .Values.replicaCount) 1 -}}
{{- fail (printf "replicaCount: %d replicas cannot share SQLite; set store.backend: postgres and store.url" (int64 .Values.replicaCount)) -}}
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
{{- $url := toString (.Values.store.url | default "") -}}
{{- if not $url -}}
{{- fail "store.url: required with store.backend: postgres (a postgres:// URL, or ${file:/etc/idplug/secrets/NAME})" -}}
{{- end -}}
{{- if not (regexMatch "^(postgres|postgresql)://|^\\$\\{[^}]+\\}$" $url) -}}
{{- fail "store.url: with store.backend: postgres, a postgres:// URL or one ${...} reference (${file:/etc/idplug/secrets/store-url}); a sqlite: URL would put one replica's file under several" -}}
{{- end -}}
{{- if or (and (regexMatch "^[a-z]+://[^/@:]*:[^/@]+@" $url) (not (regexMatch "^[a-z]+://[^/@:]*:\\$\\{[^}/@]+\\}@" $url))) (regexMatch "(?i)[?&]password=[^&$]" $url) -}}
{{- fail "store.url: holds a password, which the chart would write into the ConfigMap (readable by whoever may read ConfigMaps, and kept in the release); put the URL in secrets.files.store-url (or existingSecret) and set store.url: ${file:/etc/idplug/secrets/store-url}" -}}
{{- end -}}
{{- end -}}
{{- include "idplug.validatePod" . -}}
{{- if not (has .Values.migrate.mode (list "initContainer" "job")) -}}
{{- fail (printf "migrate.mode: %q is not initContainer or job" .Values.migrate.mode) -}}
{{- end -}}
{{- include "idplug.validateConfig" . -}}
{{- include "idplug.validateSecrets" . -}}
{{- with .Values.image.digest -}}
{{- if not (regexMatch "^[a-z0-9]+([+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$" (toString .)) -}}
{{- fail (printf "image.digest: %q is not a digest (sha256:<64 hex digits>)" (toString .)) -}}
{{- end -}}
{{- end -}}
{{- $min := int (include "idplug.minReplicas" .) -}}
{{- $from := ternary "autoscaling.minReplicas" "replicaCount" (and .Values.autoscaling.enabled true) -}}
{{- with .Values.podDisruptionBudget -}}
{{- if .enabled -}}
{{- $key := ternary "maxUnavailable" "minAvailable" (hasKey . "maxUnavailable") -}}
{{- $v := get . $key -}}
{{- $n := include "idplug.intOrPercent" (list (printf "podDisruptionBudget.%s" $key) $v) | trimAll "\"" -}}
{{- $need := 0 -}}
{{- if hasSuffix "%" $n -}}
{{- $need = div (add (mul $min (atoi (trimSuffix "%" $n))) 99) 100 | int -}}
{{- else -}}
{{- $need = atoi $n -}}
{{- end -}}
{{- if eq $key "maxUnavailable" -}}
{{- if eq (atoi (trimSuffix "%" $n)) 0 -}}
{{- fail "podDisruptionBudget.maxUnavailable: 0 lets no pod be evicted: every node drain would block on it" -}}
{{- end -}}
{{- else if ge $need $min -}}
{{- fail (printf "podDisruptionBudget: minAvailable %v with %d replica(s) (%s) lets no pod be evicted, and every node drain would block on it; run more replicas than minAvailable (store.backend: postgres), set podDisruptionBudget.maxUnavailable instead, or leave podDisruptionBudget.enabled false" $v $min $from) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if .Values.autoscaling.enabled -}}
{{- if not (dig "requests" "cpu" "" (.Values.resources | default dict)) -}}
{{- fail "autoscaling.enabled: the HorizontalPodAutoscaler scales on CPU utilization, a percentage of the pods' CPU request, and resources.requests.cpu is not set; set it (for example 100m)" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
The pod's settings that would render a pod that cannot work: the ports, the
groups idplug's files need, a tag Helm would change, a ServiceMonitor the
NetworkPolicy keeps out.
*/}}
{{- define "idplug.validatePod" -}}
{{- $http := .Values.ports.http -}}
{{- $admin := .Values.ports.admin -}}
{{- if eq (int $http) (int $admin) -}}
{{- fail (printf "ports.http and ports.admin: both %d; idplug serves the API and the admin routes on two listeners" (int $http)) -}}
{{- end -}}
{{- with .Values.image.tag -}}
{{- if not (kindIs "string" .) -}}
{{- fail (printf "image.tag: %v is a %s, which Helm writes its own way (1.10 as 1.1); quote it" . (kindOf .)) -}}
{{- end -}}
{{- end -}}
{{- $pod := .Values.podSecurityContext | default dict -}}
{{- $group := dig "runAsGroup" (dig "runAsGroup" "" $pod) (.Values.securityContext | default dict) -}}
{{- $number := list "float64" "int" "int64" -}}
{{- if has (kindOf $group) $number -}}
{{- $fsGroup := dig "fsGroup" "" $pod -}}
{{- if not (has (kindOf $fsGroup) $number) -}}
{{- if or (eq .Values.store.backend "sqlite") (include "idplug.hasSecrets" .) -}}
{{- fail (printf "podSecurityContext.fsGroup: not set, so the volumes stay root's: idplug (group %v) could not write the SQLite volume or read the secret files (mode 0440); set it to %v" $group $group) -}}
{{- end -}}
{{- else if and (eq .Values.store.backend "sqlite") (ne (int $fsGroup) (int $group)) -}}
{{- fail (printf "podSecurityContext.fsGroup: %v, but idplug runs as group %v: the SQLite volume would be writable by group %v, which idplug refuses for its database; set fsGroup to %v" $fsGroup $group $fsGroup $group) -}}
{{- end -}}
{{- end -}}
{{- $podLabels := .Values.podLabels | default dict -}}
{{- range $k, $_ := include "idplug.selectorLabels" . | fromYaml -}}
{{- if hasKey $podLabels $k -}}
{{- fail (printf "podLabels: %s is a label of the chart's selectors (the Deployment's, the Services', the NetworkPolicy's; the migrate Job's pods have it too): the pods keep the chart's value; leave it out" $k) -}}
{{- end -}}
{{- end -}}
{{- range $k := list "checksum/config" "checksum/secrets" -}}
{{- if hasKey ($.Values.podAnnotations | default dict) $k -}}
{{- fail (printf "podAnnotations: %s is the chart's own (a changed configuration or secret rolls the pods by it); leave it out" $k) -}}
{{- end -}}
{{- end -}}
{{- if and .Values.serviceMonitor.enabled .Values.networkPolicy.enabled (not .Values.networkPolicy.adminFrom) -}}
{{- fail "networkPolicy.adminFrom: empty, which lets no one reach port admin, the one the ServiceMonitor scrapes; add Prometheus's pods (for example - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: monitoring}})" -}}
{{- end -}}
{{- end -}}

{{/*
config or configYaml: exactly one; what the chart owns left out; api_keys present
(the chart listens on 0.0.0.0, where idplug refuses to start without them); no
number that Helm's values have already rounded.
*/}}
{{- define "idplug.validateConfig" -}}
{{- $config := .Values.config | default dict -}}
{{- $doc := $config -}}
{{- $where := "config" -}}
{{- if .Values.configYaml -}}
{{- if $config -}}
{{- fail "config and configYaml: set one of them; with configYaml, also set config: null (values.yaml's default config would otherwise be set too)" -}}
{{- end -}}
{{- $raw := toString .Values.configYaml -}}
{{- $doc = fromYaml $raw -}}
{{- $where = "configYaml" -}}
{{- if hasKey $doc "Error" -}}
{{- fail (printf "configYaml: not a YAML mapping: %v" (get $doc "Error")) -}}
{{- end -}}
{{- if regexMatch "\\r[^\\n]|\\r\\z|[\\x{85}\\x{2028}\\x{2029}]" $raw -}}
{{- fail "configYaml: holds a line break other than \\n or \\r\\n (a lone \\r, U+0085, U+2028 or U+2029), which YAML reads as one and other tools do not; write it with \\n line ends" -}}
{{- end -}}
{{- if regexMatch "(?m)^(---|\\.\\.\\.|%)" $raw -}}
{{- fail "configYaml: one document without markers (---, ...) or directives (%YAML): the chart writes its own keys before it" -}}
{{- end -}}
{{- if not (regexMatch "\\A(?:[ \\t]*(?:#[^\\n]*)?\\r?\\n)*[^\\s#{\\[]" $raw) -}}
{{- fail "configYaml: write a block mapping starting at column 0 (key: value lines), not a flow mapping ({...}) or an indented one: the chart writes its own keys before it" -}}
{{- end -}}
{{- else if not $config -}}
{{- fail "config: empty; set config (or configYaml) to idplug.yaml's settings" -}}
{{- else -}}
{{- include "idplug.checkNumbers" (list "config" $config) -}}
{{- end -}}
{{- range $k := list "listen" "admin_listen" "plugin_dir" "store" -}}
{{- if hasKey $doc $k -}}
{{- fail (printf "%s.%s: set by the chart (see values.yaml: store, ports, extraVolumes)" $where $k) -}}
{{- end -}}
{{- end -}}
{{- /* env's entries with a value written in the values; one made only of
$(NAME) references (Kubernetes' dependent variables) is as literal as
what it names. */ -}}
{{- $literalEnv := dict -}}
{{- $derived := dict -}}
{{- range $e := .Values.env | default list -}}
{{- if and (kindIs "map" $e) (hasKey $e "value") -}}
{{- $v := toString (get $e "value") -}}
{{- if regexMatch "^(\\$\\([A-Za-z_][A-Za-z0-9_]*\\))+$" $v -}}
{{- $_ := set $derived (toString (get $e "name")) (regexFindAll "[A-Za-z_][A-Za-z0-9_]*" $v -1) -}}
{{- else -}}
{{- $_ := set $literalEnv (toString (get $e "name")) true -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- range until (add1 (len $derived) | int) -}}
{{- range $name, $refs := $derived -}}
{{- range $r := $refs -}}
{{- if hasKey $literalEnv $r -}}
{{- $_ := set $literalEnv $name true -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- include "idplug.checkLiteralSecrets" (list $doc $where $literalEnv) -}}
{{- if not (get $doc "api_keys") -}}
{{- fail (printf "%s.api_keys: required: idplug listens on 0.0.0.0 in the pod and refuses to start without API keys; set %s.api_keys, for example [{key: \"${file:/etc/idplug/secrets/api-key}\", scopes: [signin]}] with the key in secrets (existingSecret or files)" $where $where) -}}
{{- end -}}
{{- end -}}

{{/*
The settings idplug reads as secrets must be ${...} references: written as they
are, the chart would put them in the ConfigMap. session_keys, vault_keys,
api_keys' keys, the OpenID Provider's client secrets, and the connectors'
settings whose names say secret (the Logto bridge's rule, plugins/logto/bridge/
metadata.mjs: clientSecret, appSecret, privateKey, apiKey, password... but not
privateKeyId or clientSecretJwtSigningAlgorithm). A ${VAR} they read may not be
one that env sets with a value: the chart would write it into the Deployment.
(list doc where literalEnv), literalEnv naming env's entries with a value.
*/}}
{{- define "idplug.checkLiteralSecrets" -}}
{{- $doc := index . 0 -}}
{{- $where := index . 1 -}}
{{- $env := index . 2 -}}
{{- range $k := list "session_keys" "vault_keys" -}}
{{- $keys := get $doc $k -}}
{{- if kindIs "slice" $keys -}}
{{- range $i, $v := $keys -}}
{{- include "idplug.checkSecret" (list (printf "%s.%s[%d]" $where $k $i) $v $env) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $apiKeys := get $doc "api_keys" -}}
{{- if kindIs "slice" $apiKeys -}}
{{- range $i, $v := $apiKeys -}}
{{- if kindIs "map" $v -}}
{{- include "idplug.checkSecret" (list (printf "%s.api_keys[%d].key" $where $i) (get $v "key") $env) -}}
{{- else -}}
{{- include "idplug.checkSecret" (list (printf "%s.api_keys[%d]" $where $i) $v $env) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $provider := get $doc "provider" -}}
{{- if kindIs "map" $provider -}}
{{- $clients := get $provider "clients" -}}
{{- if kindIs "slice" $clients -}}
{{- range $i, $c := $clients -}}
{{- if kindIs "map" $c -}}
{{- include "idplug.checkSecret" (list (printf "%s.provider.clients[%d].secret" $where $i) (get $c "secret") $env) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $connectors := get $doc "connectors" -}}
{{- if kindIs "slice" $connectors -}}
{{- range $i, $c := $connectors -}}
{{- if kindIs "map" $c -}}
{{- include "idplug.checkConnectorSecrets" (list (printf "%s.connectors[%d].config" $where $i) (get $c "config") false $env) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
A connector's settings, at any depth: a value under a key that names a secret
(or in a list under one) is checked. (list path value secret literalEnv)
*/}}
{{- define "idplug.checkConnectorSecrets" -}}
{{- $path := index . 0 -}}
{{- $v := index . 1 -}}
{{- if kindIs "map" $v -}}
{{- range $k, $e := $v -}}
{{- $secret := and (regexMatch "(?i)(secret|password|passphrase|private.?key|api.?key|access.?key|access.?token|signing.?key|credential)" $k) (not (regexMatch "(?i)(algorithm|method|type|id|endpoint|uri|url)$" $k)) -}}
{{- include "idplug.checkConnectorSecrets" (list (printf "%s.%s" $path $k) $e $secret (index $ 3)) -}}
{{- end -}}
{{- else if kindIs "slice" $v -}}
{{- range $i, $e := $v -}}
{{- include "idplug.checkConnectorSecrets" (list (printf "%s[%d]" $path $i) $e (index $ 2) (index $ 3)) -}}
{{- end -}}
{{- else if index . 2 -}}
{{- include "idplug.checkSecret" (list $path $v (index . 3)) -}}
{{- end -}}
{{- end -}}

{{/*
A secret's value: empty, or one ${...} reference (${file:PATH}, ${VAR}, or
${VAR:-default} whose default is one too, or empty), as idplug reads them
(host/config/interpolate.go). Anything else (a string around a reference, $$,
a number) is the secret itself. A ${VAR} in it may not be one of literalEnv, which
env sets with a value. (list path value literalEnv)
*/}}
{{- define "idplug.checkSecret" -}}
{{- $path := index . 0 -}}
{{- $v := index . 1 -}}
{{- $env := index . 2 -}}
{{- $ref := "\\$\\{(?:file:[^$}]+|[A-Za-z_][A-Za-z0-9_]*(?::-)?)\\}" -}}
{{- range until 4 -}}
{{- $ref = printf "\\$\\{(?:file:[^$}]+|[A-Za-z_][A-Za-z0-9_]*(?::-(?:%s)?)?)\\}" $ref -}}
{{- end -}}
{{- if or (and (kindIs "string" $v) $v (not (regexMatch (printf "^%s$" $ref) (toString $v)))) (has (kindOf $v) (list "float64" "int" "int64")) -}}
{{- fail (printf "%s: a secret written as it is, which the chart would write into the ConfigMap (readable by whoever may read ConfigMaps, and kept in the release); put it in a file of secrets.files (or of existingSecret) and write ${file:/etc/idplug/secrets/NAME}, or read it from the environment with ${VAR}" $path) -}}
{{- end -}}
{{- if kindIs "string" $v -}}
{{- range $name := regexFindAll "\\$\\{[A-Za-z_][A-Za-z0-9_]*" $v -1 -}}
{{- $name = trimPrefix "${" $name -}}
{{- if hasKey $env $name -}}
{{- fail (printf "%s: reads ${%s}, which env sets with a value: the chart would write the secret into the Deployment (readable by whoever may read Deployments or Pods, and kept in the release); take %s from a Secret (valueFrom: {secretKeyRef: ...}), or put it in secrets.files and write ${file:/etc/idplug/secrets/NAME}" $path $name $name) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
A number in config past 2^53 has been rounded already (Helm's values hold numbers
as float64): refuse it rather than write other digits. (list path value)
*/}}
{{- define "idplug.checkNumbers" -}}
{{- $path := index . 0 -}}
{{- $v := index . 1 -}}
{{- if kindIs "map" $v -}}
{{- range $k, $e := $v -}}
{{- include "idplug.checkNumbers" (list (printf "%s.%s" $path $k) $e) -}}
{{- end -}}
{{- else if kindIs "slice" $v -}}
{{- range $i, $e := $v -}}
{{- include "idplug.checkNumbers" (list (printf "%s[%d]" $path $i) $e) -}}
{{- end -}}
{{- else if kindIs "float64" $v -}}
{{- if or (ge $v 9007199254740992.0) (le $v -9007199254740992.0) -}}
{{- fail (printf "%s: %v has more digits than Helm's values keep (numbers are float64 there, so it would be written rounded); quote it, or write the whole config in configYaml" $path $v) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
secrets: files or existingSecret, not both; file names that are Secret keys; and
every ${file:/etc/idplug/secrets/NAME} the config reads mounted (unless an extra
volume is mounted there).
*/}}
{{- define "idplug.validateSecrets" -}}
{{- $files := .Values.secrets.files | default dict -}}
{{- if and $files .Values.secrets.existingSecret -}}
{{- fail (printf "secrets: files and existingSecret are both set; the chart mounts one Secret: put the files in %s, or leave existingSecret empty" .Values.secrets.existingSecret) -}}
{{- end -}}
{{- range $name, $value := $files -}}
{{- if or (not (regexMatch "^[-._a-zA-Z0-9]+$" $name)) (hasPrefix ".." $name) (eq $name ".") (gt (len $name) 253) -}}
{{- fail (printf "secrets.files: %q is not a valid file name: use letters, digits, '-', '_' and '.' (^[-._a-zA-Z0-9]+$), not starting with '..'" $name) -}}
{{- end -}}
{{- if not (kindIs "string" $value) -}}
{{- fail (printf "secrets.files.%s: a %s, not a string: Helm's values would write it changed (a long number in floating point, 0123 as 83, yes as true); quote it, or give the file with --set-file" $name (kindOf $value)) -}}
{{- end -}}
{{- /* Bytes that are not UTF-8 read as U+FFFD to a pattern. Helm keeps a
       release's values as JSON, which turns them into U+FFFD for good: the
       next helm upgrade --reuse-values would write another key. */ -}}
{{- if regexMatch "�" $value -}}
{{- fail (printf "secrets.files.%s: holds bytes that are not UTF-8 text, which Helm's stored values (JSON) change at the next helm upgrade --reuse-values, to another key; make the key as text (openssl rand -base64 32), or put the file in a Secret of your own (existingSecret)" $name) -}}
{{- end -}}
{{- end -}}
{{- $mountedElsewhere := false -}}
{{- range .Values.extraVolumeMounts -}}
{{- if hasPrefix "/etc/idplug/secrets" (toString .mountPath) -}}
{{- $mountedElsewhere = true -}}
{{- end -}}
{{- end -}}
{{- if not $mountedElsewhere -}}
{{- $refs := list -}}
{{- range regexFindAll "\\$\\{file:(/etc/idplug/|\\./)?secrets/[^}]*\\}" (include "idplug.config" .) -1 -}}
{{- $refs = append $refs (regexReplaceAll "^\\$\\{file:(/etc/idplug/|\\./)?secrets/(.*)\\}$" . "${2}") -}}
{{- end -}}
{{- $refs = uniq $refs -}}
{{- if and $refs (not (include "idplug.hasSecrets" .)) -}}
{{- fail (printf "secrets: the config reads %s from /etc/idplug/secrets, where no Secret is mounted; set secrets.existingSecret (a Secret with those keys) or secrets.files" (join ", " $refs)) -}}
{{- end -}}
{{- if and $files (not .Values.secrets.existingSecret) -}}
{{- range $refs -}}
{{- if not (hasKey $files .) -}}
{{- fail (printf "secrets.files: the config reads ${file:/etc/idplug/secrets/%s}, which secrets.files does not hold" .) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
idplug.yaml: the operator's config and what the chart owns, as JSON (which is
YAML) so that every string stays quoted: idplug types a plain scalar again after
replacing its ${...} references, and "${FB_APP_ID}" must stay a string. With
configYaml, the chart's keys (quoted the same way) and then configYaml as written.
*/}}
{{- define "idplug.config" -}}
{{- $store := dict "timeout" .Values.store.timeout -}}
{{- if eq .Values.store.backend "sqlite" -}}
{{- $_ := set $store "url" "sqlite:/data/idplug.db" -}}
{{- else -}}
{{- $_ := set $store "url" .Values.store.url -}}
{{- end -}}
{{- $owned := dict "listen" (printf "0.0.0.0:%d" (int .Values.ports.http)) "admin_listen" (printf "0.0.0.0:%d" (int .Values.ports.admin)) "plugin_dir" "/plugins" "store" $store -}}
{{- if .Values.configYaml -}}
{{- range $k := list "listen" "admin_listen" "plugin_dir" "store" -}}
{{ $k }}: {{ get $owned $k | toJson | include "idplug.escapeJSON" }}
{{ end -}}
{{ regexReplaceAll "\\s+\\z" (toString .Values.configYaml) "" }}
{{- else -}}
{{- toPrettyJson (merge $owned (deepCopy (.Values.config | default dict))) | include "idplug.escapeJSON" -}}
{{- end -}}
{{- end -}}

{{/*
JSON text with the characters YAML reads otherwise escaped (\uXXXX, in JSON's
strings, the only place they can be): NEL (U+0085), which YAML folds into a
space in a quoted string, DEL and the other C1 controls and U+FFFE and U+FFFF,
which YAML refuses. toJson leaves them as they are; it escapes the rest (line
breaks, U+2028 and U+2029 among them).
*/}}
{{- define "idplug.escapeJSON" -}}
{{- $s := . -}}
{{- range $c := concat (untilStep 127 160 1) (list 65534 65535) -}}
{{- $s = replace (printf "%c" $c) (printf "\\u%04x" $c) $s -}}
{{- end -}}
{{- $s -}}
{{- end -}}

{{/* The pod settings the Deployment and the migrate Job share. */}}
{{- define "idplug.podSettings" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
automountServiceAccountToken: false
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* The migrate container: the Deployment's init container, or the Job's. */}}
{{- define "idplug.migrateContainer" -}}
- name: migrate
  image: {{ include "idplug.image" . | quote }}
  imagePullPolicy: {{ .Values.image.pullPolicy | quote }}
  command: ["/usr/local/bin/idplug"]
  args: ["migrate", "--config", "/etc/idplug/idplug.yaml"]
  securityContext:
    {{- toYaml .Values.securityContext | nindent 4 }}
  {{- with .Values.env }}
  env:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with (.Values.migrate.resources | default .Values.resources) }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  volumeMounts:
    {{- include "idplug.volumeMounts" . | nindent 4 }}
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
    name: {{ include "idplug.fullname" . | quote }}
{{- if include "idplug.hasSecrets" . }}
- name: secrets
  secret:
    secretName: {{ include "idplug.secretName" . | quote }}
    defaultMode: 0440
{{- end }}
{{- if and (eq .Values.store.backend "sqlite") .Values.persistence.enabled }}
- name: data
  persistentVolumeClaim:
    claimName: {{ .Values.persistence.existingClaim | default (printf "%s-data" (include "idplug.fullname" .)) | quote }}
{{- else }}
{{- if eq .Values.store.backend "sqlite" }}
{{- fail "store.backend sqlite needs persistence.enabled: an emptyDir is writable by every user, which idplug refuses for its database, and it loses the store (sessions, the vault, the provider's keys) at every restart; enable persistence, or use store.backend postgres" }}
{{- end }}
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
