package esx

import "sort"

// TemplatePrefix starts the names of the index templates brun installs,
// one per topic: brun-<topic>.
const TemplatePrefix = "brun-"

// Templates is the answer of GET /_index_template/brun-*, as far as brun
// reads it: each template's _meta, where brun marks its own templates and
// names their topic.
type Templates struct {
	IndexTemplates []struct {
		IndexTemplate struct {
			Meta struct {
				ManagedBy string `json:"managed_by"`
				Topic     string `json:"topic"`
			} `json:"_meta"`
		} `json:"index_template"`
	} `json:"index_templates"`
}

// Topics lists, sorted, the topics of the templates brun installed
// (_meta.managed_by "brun"); a template of the same name that someone else
// made is not brun's.
func (t Templates) Topics() []string {
	var out []string
	for _, it := range t.IndexTemplates {
		if m := it.IndexTemplate.Meta; m.ManagedBy == "brun" && m.Topic != "" {
			out = append(out, m.Topic)
		}
	}
	sort.Strings(out)
	return out
}
