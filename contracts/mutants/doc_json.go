package mutants

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Object is a JSON object that keeps its members in document order.
type Object struct {
	Members []Member
}

// Member is one name/value pair of an Object.
type Member struct {
	Name  string
	Value any // nil, bool, json.Number, string, *Object or []any
}

// Doc is a decoded JSON document: nil, bool, json.Number, string, *Object
// or []any, nested.
type Doc = any

// Parse decodes one JSON document, keeping object member order and number
// literals. Trailing data after the document is an error.
func Parse(data []byte) (Doc, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := parseValue(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("json: data after the document")
	}
	return v, nil
}

func parseValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("json: %w", err)
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			obj := &Object{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return nil, fmt.Errorf("json: %w", err)
				}
				v, err := parseValue(dec)
				if err != nil {
					return nil, err
				}
				obj.Members = append(obj.Members, Member{Name: k.(string), Value: v})
			}
			if _, err := dec.Token(); err != nil { // '}'
				return nil, fmt.Errorf("json: %w", err)
			}
			return obj, nil
		case '[':
			arr := []any{}
			for dec.More() {
				v, err := parseValue(dec)
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			if _, err := dec.Token(); err != nil { // ']'
				return nil, fmt.Errorf("json: %w", err)
			}
			return arr, nil
		}
		return nil, fmt.Errorf("json: unexpected %v", t)
	default:
		return t, nil // nil, bool, json.Number, string
	}
}

// Get returns the value of member name.
func (o *Object) Get(name string) (any, bool) {
	for _, m := range o.Members {
		if m.Name == name {
			return m.Value, true
		}
	}
	return nil, false
}

// Set replaces the value of member name, or appends the member.
func (o *Object) Set(name string, v any) {
	for i := range o.Members {
		if o.Members[i].Name == name {
			o.Members[i].Value = v
			return
		}
	}
	o.Members = append(o.Members, Member{Name: name, Value: v})
}

// Rename renames member from to to, in place; an error if from is missing.
func (o *Object) Rename(from, to string) error {
	for i := range o.Members {
		if o.Members[i].Name == from {
			o.Members[i].Name = to
			return nil
		}
	}
	return fmt.Errorf("no member %q in %s", from, o.names())
}

// Delete removes member name; an error if it is missing.
func (o *Object) Delete(name string) error {
	for i := range o.Members {
		if o.Members[i].Name == name {
			o.Members = slices.Delete(o.Members, i, i+1)
			return nil
		}
	}
	return fmt.Errorf("no member %q in %s", name, o.names())
}

func (o *Object) names() string {
	var names []string
	for _, m := range o.Members {
		names = append(names, m.Name)
	}
	return "{" + strings.Join(names, ",") + "}"
}

// Format says how Encode writes a document.
type Format struct {
	Indent  string // "" for compact
	Reverse bool   // write every object's members in reverse order
}

// Encode writes doc as JSON in format f.
func Encode(doc Doc, f Format) ([]byte, error) {
	var b bytes.Buffer
	if err := encodeValue(&b, doc, f, 0); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func encodeValue(b *bytes.Buffer, v any, f Format, depth int) error {
	newline := func(d int) {
		if f.Indent != "" {
			b.WriteByte('\n')
			b.WriteString(strings.Repeat(f.Indent, d))
		}
	}
	switch t := v.(type) {
	case *Object:
		members := slices.Clone(t.Members)
		if f.Reverse {
			slices.Reverse(members)
		}
		b.WriteByte('{')
		for i, m := range members {
			if i > 0 {
				b.WriteByte(',')
			}
			newline(depth + 1)
			k, _ := json.Marshal(m.Name)
			b.Write(k)
			b.WriteByte(':')
			if f.Indent != "" {
				b.WriteByte(' ')
			}
			if err := encodeValue(b, m.Value, f, depth+1); err != nil {
				return err
			}
		}
		if len(members) > 0 {
			newline(depth)
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				b.WriteByte(',')
			}
			newline(depth + 1)
			if err := encodeValue(b, e, f, depth+1); err != nil {
				return err
			}
		}
		if len(t) > 0 {
			newline(depth)
		}
		b.WriteByte(']')
	case nil, bool, json.Number, string:
		data, err := json.Marshal(t)
		if err != nil {
			return err
		}
		b.Write(data)
	default:
		return fmt.Errorf("json: cannot encode %T", v)
	}
	return nil
}

// Equal reports whether two documents hold the same data, ignoring object
// member order (what a JSON consumer sees).
func Equal(a, b Doc) bool {
	switch x := a.(type) {
	case *Object:
		y, ok := b.(*Object)
		if !ok || len(x.Members) != len(y.Members) {
			return false
		}
		for _, m := range x.Members {
			v, ok := y.Get(m.Name)
			if !ok || !Equal(m.Value, v) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !Equal(x[i], y[i]) {
				return false
			}
		}
		return true
	default:
		return a == b
	}
}
