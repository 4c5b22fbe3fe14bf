// Annotation templates in the Prometheus spirit: {{ $labels.name }}, {{ $value }}, and
// {{ $value | printf "%.3f" }} for a fixed number of decimals. Unknown labels render empty.
const TEMPLATE_RE = /\{\{\s*\$(labels\.([A-Za-z_][A-Za-z0-9_]*)|value)(?:\s*\|\s*printf\s+"%\.(\d+)f")?\s*\}\}/g;

export function renderTemplate(text: string, labels: Record<string, string>, value: number): string {
  return text.replace(TEMPLATE_RE, (_all, what: string, label: string | undefined, decimals: string | undefined) => {
    if (label !== undefined) return labels[label] ?? '';
    return decimals !== undefined ? value.toFixed(Number(decimals)) : String(value);
  });
}
