package config

import (
	"strconv"
	"strings"

	"github.com/idplug/idplug/host/config/internal/walk"
	"github.com/idplug/idplug/host/mapping"
	"go.yaml.in/yaml/v3"
)

// mappingKeys are the keys of a connector's mapping: block.
var mappingKeys = append(append([]string{}, mapping.ProfileFields...), "claims", "allow", "allow_reason", "allow_id_change")

// mapping decodes and compiles a connector's mapping: block; nil when there is
// none. Each expression's problems point at its line, and say where in the
// expression they are.
func (d *decoder) mapping(fs walk.Fields) *mapping.Mapping {
	if d.refuseEmpty(fs, "mapping", "leave it out for no mapping") {
		return nil
	}
	e, ok, at := fs.At("mapping")
	if !ok {
		return nil
	}
	v := walk.Deref(e.Value)
	if v.Kind != yaml.MappingNode {
		d.ps.Add(at.Path, at.Pos, "must be a mapping of profile fields, claims and allow to CEL expressions, like {name: raw.login}")
		return nil
	}
	mfs := d.Known(v, at.Path, mappingKeys)
	mfs.Pos = walk.PosOf(v)
	spec := mapping.Spec{Fields: map[string]string{}, Claims: map[string]string{}}
	locs := map[string]walk.Loc{} // the spec's field -> where its expression is
	expr := func(fields walk.Fields, key, field string) (string, bool) {
		if empty, loc := fields.Empty(key); empty {
			locs[field] = loc
			instead := "leave it out to keep the connector's value"
			switch {
			case field == "allow":
				instead = "leave it out to let everyone sign in"
			case strings.HasPrefix(field, "claims."):
				instead = "leave it out for no such claim"
			}
			d.refuseEmpty(fields, key, instead)
			return "", false
		}
		s, set, loc := fields.Text(key)
		locs[field] = loc
		if set && s == "" {
			d.ps.Add(loc.Path, loc.Pos, "is empty; leave it out to keep the connector's value")
			return "", false
		}
		return s, set
	}
	for _, f := range mapping.ProfileFields {
		if s, ok := expr(mfs, f, f); ok {
			spec.Fields[f] = s
		}
	}
	if s, ok := expr(mfs, "allow", "allow"); ok {
		spec.Allow = s
	}
	if s, set, loc := mfs.Text("allow_reason"); set {
		spec.AllowReason = s
		locs["allow_reason"] = loc
	}
	if s, set, loc := mfs.Text("allow_id_change"); set {
		b, err := strconv.ParseBool(s)
		if err != nil {
			d.ps.Add(loc.Path, loc.Pos, "%q must be true or false", s)
		}
		spec.AllowIDChange = b
	}
	locs["claims"] = walk.Loc{Path: at.Path.Key("claims"), Pos: mfs.Pos}
	if ce, ok, cat := mfs.At("claims"); ok {
		locs["claims"] = cat
		cv := walk.Deref(ce.Value)
		if cv.Kind != yaml.MappingNode {
			d.ps.Add(cat.Path, cat.Pos, "must be a mapping of claim name to CEL expression, like {groups: raw.groups}")
		} else {
			cfs := d.NewFields(cat.Path, cat.Pos)
			for _, entry := range d.Entries(cv, cat.Path, cat.Pos) {
				cfs.Set(entry)
				if s, ok := expr(cfs, entry.Key, "claims."+entry.Key); ok {
					spec.Claims[entry.Key] = s
				}
			}
		}
	}

	m, err := mapping.Compile(spec)
	if ce, ok := err.(*mapping.CompileError); ok {
		for _, p := range ce.Problems {
			loc, ok := locs[p.Field]
			if !ok {
				loc = walk.Loc{Path: at.Path.Key(p.Field), Pos: mfs.Pos}
			}
			msg := p.Message
			if p.Line > 0 {
				where := "column " + strconv.Itoa(p.Column)
				if p.Line > 1 {
					where = "line " + strconv.Itoa(p.Line) + ", " + where
				}
				msg = where + " of the expression: " + msg
			}
			d.ps.Add(loc.Path, loc.Pos, "%s", strings.TrimSpace(msg))
		}
		return nil
	}
	return m
}
