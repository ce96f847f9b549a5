{{/* Names, labels and shared pieces of the Outrigger chart. Nothing here may be random or time-dependent: `helm template` output is deterministic. */}}

{{- define "outrigger.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{- define "outrigger.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "outrigger.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels on every object. */}}
{{- define "outrigger.labels" -}}
helm.sh/chart: {{ include "outrigger.chart" . }}
app.kubernetes.io/name: {{ include "outrigger.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: outrigger
{{- end -}}

{{/* Selector labels of one component: include with (dict "root" $ "component" "controller"). */}}
{{- define "outrigger.selectorLabels" -}}
app.kubernetes.io/name: {{ include "outrigger.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "outrigger.componentLabels" -}}
{{ include "outrigger.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "outrigger.controller.fullname" -}}
{{- printf "%s-controller" (include "outrigger.fullname" .) -}}
{{- end -}}

{{- define "outrigger.webhook.fullname" -}}
{{- printf "%s-webhook" (include "outrigger.fullname" .) -}}
{{- end -}}

{{- define "outrigger.controller.serviceAccountName" -}}
{{- default (include "outrigger.controller.fullname" .) .Values.controller.serviceAccount.name -}}
{{- end -}}

{{- define "outrigger.webhook.serviceAccountName" -}}
{{- default (include "outrigger.webhook.fullname" .) .Values.webhook.serviceAccount.name -}}
{{- end -}}

{{/* Cluster-scoped names carry the release namespace, so two releases never collide. */}}
{{- define "outrigger.clusterName" -}}
{{- printf "%s-%s" .Release.Namespace (include "outrigger.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "outrigger.webhook.configurationName" -}}
{{- printf "%s.outrigger.dev" (include "outrigger.clusterName" .) -}}
{{- end -}}

{{- define "outrigger.webhook.certSecretName" -}}
{{- printf "%s-tls" (include "outrigger.webhook.fullname" .) -}}
{{- end -}}

{{- define "outrigger.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The plural of every CRD in files/crds, for webhook and role rules: the CRD files are the single source. */}}
{{- define "outrigger.plurals" -}}
{{- $plurals := list -}}
{{- range $path, $_ := .Files.Glob "files/crds/*.outrigger.dev.yaml" -}}
{{- $crd := $.Files.Get $path | fromYaml -}}
{{- $plurals = append $plurals $crd.spec.names.plural -}}
{{- end -}}
{{- toJson $plurals -}}
{{- end -}}

{{/* The restricted Pod Security profile: pod level. */}}
{{- define "outrigger.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* The restricted Pod Security profile: container level. */}}
{{- define "outrigger.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Spread replicas over nodes unless told otherwise: include with (dict "root" $ "component" "controller" "values" .Values.controller). */}}
{{- define "outrigger.topologySpread" -}}
{{- if .values.topologySpreadConstraints -}}
{{ toYaml .values.topologySpreadConstraints }}
{{- else -}}
- maxSkew: 1
  topologyKey: kubernetes.io/hostname
  whenUnsatisfiable: ScheduleAnyway
  labelSelector:
    matchLabels:
      {{- include "outrigger.selectorLabels" (dict "root" .root "component" .component) | nindent 6 }}
{{- end -}}
{{- end -}}
