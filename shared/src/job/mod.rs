//! The job: its id, the one lifecycle (states and allowed transitions), named errors and the retry policy shared by both engines.
