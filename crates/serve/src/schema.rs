//! Hand-written JSON schemas for the fields whose shape depends on the input (`/prune`'s
//! `question`, `contexts`, `title` and its answer), which the derives cannot express.

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{AnyOfBuilder, ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type};

fn typed(ty: Type) -> RefOr<Schema> {
    ObjectBuilder::new().schema_type(ty).into()
}

fn nullable(ty: Type) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([ty, Type::Null]))
        .into()
}

fn list(items: RefOr<Schema>) -> RefOr<Schema> {
    ArrayBuilder::new().items(items).into()
}

fn any_of(items: impl IntoIterator<Item = RefOr<Schema>>, description: &str) -> RefOr<Schema> {
    items
        .into_iter()
        .fold(AnyOfBuilder::new(), AnyOfBuilder::item)
        .description(Some(description))
        .into()
}

/// A document: a text, or a list of sentences.
fn document() -> RefOr<Schema> {
    any_of(
        [typed(Type::String), list(typed(Type::String))],
        "A document: a text, or its sentences.",
    )
}

/// `question`: a string or a list of strings.
pub(crate) fn question() -> RefOr<Schema> {
    any_of(
        [typed(Type::String), list(typed(Type::String))],
        "A question, or a list of questions.",
    )
}

/// `contexts`: a text, a list of documents, or a list of lists of documents.
pub(crate) fn contexts() -> RefOr<Schema> {
    any_of(
        [typed(Type::String), list(document()), list(list(document()))],
        "One question: a text, or a list of documents (each a text or a list of sentences). \
         Several questions: one text per question, or one list of documents per question.",
    )
}

/// `title`: null, a string, a list of strings or a list of lists of strings.
pub(crate) fn title() -> RefOr<Schema> {
    any_of(
        [
            nullable(Type::String),
            list(typed(Type::String)),
            list(list(typed(Type::String))),
        ],
        "Absent or \"first_sentence\": the first sentence; null: no title; a string: one title \
         for all; a list: one per question; a list of lists: one per document.",
    )
}

/// `item`, a list of them, or a list of lists: a field of `process()`'s answer follows the
/// input's shape.
fn shaped(item: RefOr<Schema>, description: &str) -> RefOr<Schema> {
    any_of([item.clone(), list(item.clone()), list(list(item))], description)
}

/// The `/prune` answer.
pub(crate) fn prune_response() -> RefOr<Schema> {
    let number = || typed(Type::Number);
    let timing = [
        "preprocess_seconds",
        "assembly_seconds",
        "inference_seconds",
        "postprocess_seconds",
        "total_seconds",
    ]
    .into_iter()
    .fold(ObjectBuilder::new(), |o, name| {
        o.property(name, number()).required(name)
    });
    let fields = [
        (
            "pruned_context",
            shaped(typed(Type::String), "The kept sentences, joined."),
            true,
        ),
        (
            "reranking_score",
            shaped(
                nullable(Type::Number),
                "Sigmoid ranking score; 0 when nothing was kept.",
            ),
            true,
        ),
        (
            "compression_rate",
            shaped(number(), "Percent of characters removed."),
            true,
        ),
        (
            "title",
            shaped(
                any_of(
                    [nullable(Type::String), list(typed(Type::String))],
                    "The title sentence(s).",
                ),
                "Each document's title.",
            ),
            true,
        ),
        (
            "sentence_probabilities",
            shaped(
                list(number()),
                "Keep probability per sentence (return_sentence_metrics).",
            ),
            false,
        ),
        (
            "kept_sentences",
            shaped(list(typed(Type::String)), "Kept sentences (return_sentence_texts)."),
            false,
        ),
        (
            "removed_sentences",
            shaped(list(typed(Type::String)), "Removed sentences (return_sentence_texts)."),
            false,
        ),
    ];
    let object = fields
        .into_iter()
        .fold(ObjectBuilder::new(), |o, (name, schema, required)| {
            let o = o.property(name, schema);
            if required { o.required(name) } else { o }
        })
        .property("timing", timing)
        .required("timing")
        .description(Some(
            "process()'s answer: each field a scalar (one question, one text), a list (over \
             documents, or over aligned questions) or a list of lists (questions × documents).",
        ));
    object.into()
}
