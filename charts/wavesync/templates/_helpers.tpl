{{/* Chart name, truncated to 63 characters. */}}
{{- define "wavesync.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name: the release name when it already contains the chart name
(`helm install wavesync …` gives `wavesync`), else <release>-<chart>.
*/}}
{{- define "wavesync.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "wavesync.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "wavesync.labels" -}}
helm.sh/chart: {{ include "wavesync.chart" . }}
{{ include "wavesync.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: wavesync
{{- end }}

{{/* Labels that select the agent's pods. */}}
{{- define "wavesync.selectorLabels" -}}
app.kubernetes.io/name: {{ include "wavesync.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "wavesync.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "wavesync.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "wavesync.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* Whether credentials are given inline (the chart then creates the Secret). */}}
{{- define "wavesync.inlineCredentials" -}}
{{- with .Values.credentials }}
{{- if or .token .username .sshKey .knownHosts }}true{{ end }}
{{- end }}
{{- end }}

{{/* Name of the credentials Secret, or "" for none. */}}
{{- define "wavesync.credentialsSecret" -}}
{{- if .Values.credentials.existingSecret }}
{{- .Values.credentials.existingSecret }}
{{- else if include "wavesync.inlineCredentials" . }}
{{- printf "%s-git-credentials" (include "wavesync.fullname" .) | trunc 253 }}
{{- end }}
{{- end }}

{{/* Whether the repository URL is an SSH one (ssh://… or user@host:path). */}}
{{- define "wavesync.sshURL" -}}
{{- if or (hasPrefix "ssh://" .Values.repo.url) (regexMatch "^[^/:@]+@[^/:]+:" .Values.repo.url) }}true{{ end }}
{{- end }}

{{/* Refuses contradictory values. */}}
{{- define "wavesync.validate" -}}
{{- if and .Values.credentials.existingSecret (include "wavesync.inlineCredentials" .) }}
{{- fail "credentials: set either credentials.existingSecret or the inline credentials (token, username, sshKey, knownHosts), not both" }}
{{- end }}
{{- if and .Values.credentials.sshKey (not .Values.credentials.knownHosts) }}
{{- fail "credentials.sshKey needs credentials.knownHosts: the agent only connects to SSH hosts whose key it knows" }}
{{- end }}
{{- end }}
